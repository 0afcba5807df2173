import WACore

/// Work a node starts on the side of its loops — a notification to a peer, a gateway session,
/// a group-commit flush — runs here as a child of the node's service task group instead of as
/// an unstructured task: it cannot outlive the service, and cancelling the service cancels it.
/// Work taken is never dropped: when `run()` is cancelled it stops taking new work and still
/// starts what is queued (cancelled from the start), so whoever waits on that work is answered.
public final class NodeTasks: Sendable {
    public typealias Work = @Sendable () async -> Void
    private struct State: Sendable {
        var queued: [Work] = []
        var waiter: CheckedContinuation<Work?, Never>?
        var finished = false
    }
    private let state = Locked(State())

    public init() {}

    /// Queues `body` to run as a child of `run()`; false once the node stopped taking work
    /// (after `finish()` or cancellation), and then `body` never runs.
    @discardableResult
    public func spawn(_ body: @escaping Work) -> Bool {
        let (taken, waiter) = state.withLock { s -> (Bool, CheckedContinuation<Work?, Never>?) in
            guard !s.finished else { return (false, nil) }
            if let w = s.waiter { s.waiter = nil; return (true, w) }
            s.queued.append(body)
            return (true, nil)
        }
        waiter?.resume(returning: body)
        return taken
    }

    /// No more work is taken; `run()` returns once what was taken has finished.
    public func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<Work?, Never>? in
            s.finished = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next piece of work, or nil once finished and drained.
    private func next() async -> Work? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Work?, Never>) in
                let ready = state.withLock { s -> Work?? in
                    if !s.queued.isEmpty { return .some(s.queued.removeFirst()) }
                    if s.finished || Task.isCancelled { s.finished = true; return .some(nil) }
                    s.waiter = c
                    return .none
                }
                if let ready { c.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }

    /// Runs every spawned piece of work as a child task. Ends after `finish()` or cancellation,
    /// once the work taken has finished.
    public func run() async {
        await withDiscardingTaskGroup { group in
            while let body = await next() { group.addTask { await body() } }
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
