import Foundation

/// A clock that moves only when told to: shells and services are tested with it, without
/// sockets' timing or real sleeps. Sleepers wake, in deadline order, when `advance` passes them.
public final class ManualClock: ClusterClock, Sendable {
    private struct Sleeper { let deadline: LogicalInstant; let id: UInt64; let continuation: CheckedContinuation<Void, Error> }
    private struct State {
        var current: LogicalInstant
        var sleepers: [Sleeper] = []
        var nextID: UInt64 = 0
    }
    private let state: Locked<State>
    public let scale: TimeScale

    public init(start: LogicalInstant = .init(seconds: 1_000_000), scale: TimeScale = .realTime) {
        self.state = Locked(State(current: start))
        self.scale = scale
    }

    public var now: LogicalInstant { state.withLock { $0.current } }
    /// The same instant as `now`: a manual clock never steps.
    public var monotonicNow: LogicalInstant { now }

    /// Number of tasks currently suspended in `sleep`; lets tests wait until a loop is parked.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Suspends until `advance` passes the deadline; a cancelled sleeper wakes at once with
    /// `CancellationError` (as `Task.sleep` does), so loops driven by this clock end on cancellation.
    public func sleep(logicalSeconds: Double) async throws {
        let id = state.withLock { s in s.nextID += 1; return s.nextID }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
                // nil: parked; otherwise resumed at once, cancelled (true) or already due (false).
                let cancelledAtOnce = state.withLock { s -> Bool? in
                    let deadline = s.current + max(0, logicalSeconds)
                    if Task.isCancelled { return true }
                    if deadline <= s.current { return false }
                    s.sleepers.append(Sleeper(deadline: deadline, id: id, continuation: c))
                    return nil
                }
                switch cancelledAtOnce {
                case true?: c.resume(throwing: CancellationError())
                case false?: c.resume()
                case nil: break
                }
            }
        } onCancel: {
            let cancelled = state.withLock { s -> Sleeper? in
                guard let i = s.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return s.sleepers.remove(at: i)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline has passed.
    public func advance(by seconds: Double) {
        let due = state.withLock { s -> [Sleeper] in
            s.current = s.current + seconds
            let due = s.sleepers.filter { $0.deadline <= s.current }.sorted { ($0.deadline, $0.id) < ($1.deadline, $1.id) }
            s.sleepers.removeAll { $0.deadline <= s.current }
            return due
        }
        for s in due { s.continuation.resume() }
    }
}
