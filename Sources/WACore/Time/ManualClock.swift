import Foundation

/// A clock that moves only when told to: shells and services are tested with it, without
/// sockets' timing or real sleeps. Sleepers wake, in deadline order, when `advance` passes them.
public final class ManualClock: ClusterClock, @unchecked Sendable {
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

    public func sleep(logicalSeconds: Double) async throws {
        try Task.checkCancellation()
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            lock.lock()
            let deadline = current + max(0, logicalSeconds)
            if deadline <= current { lock.unlock(); c.resume(); return }
            nextID += 1
            sleepers.append(Sleeper(deadline: deadline, id: nextID, continuation: c))
            lock.unlock()
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
