import ServiceLifecycle
import WACore

/// Runs `body` every `period` logical seconds until graceful shutdown or cancellation. The
/// clock does the waiting, so the time scale and tests control it.
public func periodic(every period: Double, clock: any ClusterClock, _ body: @escaping @Sendable () async -> Void) async {
    await withTaskCancellationOrGracefulShutdownHandler {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            await body()
            do { try await clock.sleep(logicalSeconds: period) } catch { return }
        }
    } onCancelOrGracefulShutdown: {}
}

