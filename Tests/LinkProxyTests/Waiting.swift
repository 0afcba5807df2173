import NIOCore
import NIOPosix

/// Test timing without sleeping threads: every wait is a timer on an event loop.
enum Waiting {
    static var loop: EventLoop { MultiThreadedEventLoopGroup.singleton.any() }

    /// Suspends the test for `amount`.
    static func pause(_ amount: TimeAmount) async throws {
        try await loop.scheduleTask(in: amount) {}.futureResult.get()
    }

    /// Re-checks `condition` every 10 ms until it holds or `timeout` passes; returns the last answer.
    static func until(_ timeout: TimeAmount = .seconds(2), _ condition: () -> Bool) async throws -> Bool {
        let deadline = NIODeadline.now() + timeout
        while !condition() {
            if NIODeadline.now() > deadline { return false }
            try await pause(.milliseconds(10))
        }
        return true
    }

    /// Seconds elapsed since `start`, for reporting and for timing assertions.
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
