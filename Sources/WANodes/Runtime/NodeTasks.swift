/// Work a node starts on the side of its loops — a notification to a peer, a gateway session,
/// a group-commit flush — runs here as a child of the node's service task group instead of as
/// an unstructured task: it cannot outlive the service, and cancelling the service cancels it.
public final class NodeTasks: Sendable {
    public typealias Work = @Sendable () async -> Void
    private let work: AsyncStream<Work>
    private let sink: AsyncStream<Work>.Continuation

    public init() { (work, sink) = AsyncStream.makeStream(of: Work.self) }

    /// Queues `body` to run as a child of `run()`. After `finish()` it is dropped.
    public func spawn(_ body: @escaping Work) { sink.yield(body) }

    /// No more work is taken; `run()` returns once what was taken has finished.
    public func finish() { sink.finish() }

    /// Runs every spawned piece of work as a child task. Ends after `finish()` (once the
    /// children are done) or when cancelled (cancelling them).
    public func run() async {
        await withDiscardingTaskGroup { group in
            for await body in work { group.addTask { await body() } }
        }
    }

    /// Runs `body` (a service's loops and its shutdown) with the side work running beside it;
    /// when `body` returns, what is still running on the side is cancelled and awaited.
    public func serving(_ body: @escaping @Sendable () async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.run() }
            await body()
            group.cancelAll()
        }
    }
}
