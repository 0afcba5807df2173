import Foundation
import Synchronization

/// Process-wide record of the children owned by some supervisor in this process.
///
/// Orphan adoption claims "children of the runner that nobody owns"; forking and recording the
/// new pid happen under the same lock as that scan, so a child that was just forked (or just
/// failed to exec and was reaped) can never be mistaken for an orphan.
final class ChildRegistry: Sendable {
    static let shared = ChildRegistry()

    // Nothing here runs between fork and exec: the child side of `spawn` is all in the C shim.
    private let owned = Mutex(Set<pid_t>())

    /// Runs `spawn` and records the pid it returns, atomically with respect to `claimUnowned`.
    func launch(_ spawn: () -> pid_t) -> pid_t {
        owned.withLock { owned in
            let pid = spawn()
            guard pid > 0 else { return pid } // a failed spawn has already reaped its child
            owned.insert(pid)
            return pid
        }
    }

    /// Forgets a pid once it has been reaped (its number may be reused from then on).
    func release(_ pid: pid_t) {
        owned.withLock { _ = $0.remove(pid) }
    }

    /// Lists children with `scan` and claims those nobody owns, all under the lock.
    func claimUnowned(_ scan: () -> [pid_t]) -> [pid_t] {
        owned.withLock { owned in
            let claimed = scan().filter { !owned.contains($0) }
            owned.formUnion(claimed)
            return claimed
        }
    }
}
