import Foundation

/// A clock that moves only when told to: shells and services are tested with it, without
/// sockets' timing or real sleeps. Sleepers wake, in deadline order, when `advance` passes them.
public final class ManualClock: ClusterClock, @unchecked Sendable {
    // @unchecked: `current`, `sleepers` and `nextID` are guarded by `lock`.
    private struct Sleeper { let deadline: LogicalInstant; let id: UInt64; let continuation: CheckedContinuation<Void, Error> }
    private let lock = NSLock()
    private var current: LogicalInstant
    private var sleepers: [Sleeper] = []
    private var nextID: UInt64 = 0
    public let scale: TimeScale

    public init(start: LogicalInstant = .init(seconds: 1_000_000), scale: TimeScale = .realTime) {
        self.current = start
        self.scale = scale
    }

    public var now: LogicalInstant { lock.withLock { current } }
    /// The same instant as `now`: a manual clock never steps.
    public var monotonicNow: LogicalInstant { now }

    /// Number of tasks currently suspended in `sleep`; lets tests wait until a loop is parked.
    public var sleeperCount: Int { lock.withLock { sleepers.count } }

    /// Suspends until `advance` passes the deadline; a cancelled sleeper wakes at once with
    /// `CancellationError` (as `Task.sleep` does), so loops driven by this clock end on cancellation.
    public func sleep(logicalSeconds: Double) async throws {
        let id = lock.withLock { nextID += 1; return nextID }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
                lock.lock()
                let deadline = current + max(0, logicalSeconds)
                if Task.isCancelled { lock.unlock(); c.resume(throwing: CancellationError()); return }
                if deadline <= current { lock.unlock(); c.resume(); return }
                sleepers.append(Sleeper(deadline: deadline, id: id, continuation: c))
                lock.unlock()
            }
        } onCancel: {
            let cancelled = lock.withLock { () -> Sleeper? in
                guard let i = sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return sleepers.remove(at: i)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline has passed.
    public func advance(by seconds: Double) {
        lock.lock()
        current = current + seconds
        let due = sleepers.filter { $0.deadline <= current }.sorted { ($0.deadline, $0.id) < ($1.deadline, $1.id) }
        sleepers.removeAll { $0.deadline <= current }
        lock.unlock()
        for s in due { s.continuation.resume() }
    }
}
