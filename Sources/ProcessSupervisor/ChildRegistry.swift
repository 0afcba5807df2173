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

extension ChildRegistry {
    /// `launch` for a spawn that may throw.
    func launchThrowing(_ spawn: () throws -> pid_t) throws -> pid_t {
        try owned.withLock { owned in
            let pid = try spawn()
            if pid > 0 { owned.insert(pid) }
            return pid
        }
    }
}

/// Children a supervisor must leave alone: short tools the runner starts and waits for itself
/// (`ip`, `nft`, `tc` through Foundation.Process). Registered atomically with their start, so a
/// supervisor's orphan sweep (child subreaper) never claims and reaps them under their waiter.
public enum ForeignChildren {
    /// Runs `start`, which starts one child and returns its pid, and marks that pid as owned.
    public static func start(_ start: () throws -> Int32) throws -> Int32 {
        try ChildRegistry.shared.launchThrowing(start)
    }

    /// Forgets the pid once its waiter has reaped it.
    public static func finished(_ pid: Int32) { ChildRegistry.shared.release(pid) }
}
