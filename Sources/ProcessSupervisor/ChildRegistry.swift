import Foundation

/// Process-wide record of the children owned by some supervisor in this process.
///
/// Orphan adoption claims "children of the runner that nobody owns"; forking and recording the
/// new pid happen under the same lock as that scan, so a child that was just forked (or just
/// failed to exec and was reaped) can never be mistaken for an orphan.
final class ChildRegistry: @unchecked Sendable {
    // @unchecked: `owned` is guarded by `lock`.
    static let shared = ChildRegistry()

    private let lock = NSLock()
    private var owned = Set<pid_t>()

    /// Runs `spawn` and records the pid it returns, atomically with respect to `claimUnowned`.
    func launch(_ spawn: () -> pid_t) -> pid_t {
        lock.withLock {
            let pid = spawn()
            guard pid > 0 else { return pid } // a failed spawn has already reaped its child
            owned.insert(pid)
            return pid
        }
    }

    /// Forgets a pid once it has been reaped (its number may be reused from then on).
    func release(_ pid: pid_t) {
        lock.withLock { _ = owned.remove(pid) }
    }

    /// Lists children with `scan` and claims those nobody owns, all under the lock.
    func claimUnowned(_ scan: () -> [pid_t]) -> [pid_t] {
        lock.withLock {
            let claimed = scan().filter { !owned.contains($0) }
            owned.formUnion(claimed)
            return claimed
        }
    }
}
