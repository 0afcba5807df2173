import CProcessShim
import Foundation
import Synchronization

/// A descendant of a managed process that was reparented to the runner (child subreaper)
/// after its own parent died, e.g. a database server a node daemonized.
final class AdoptedOrphan: ReapableChild, Sendable {
    let pid: pid_t
    private let reaped = Mutex(false)
    private let waiters = ExitWaiters()
    private let onReaped: @Sendable (pid_t) -> Void

    init(pid: pid_t, onReaped: @escaping @Sendable (pid_t) -> Void) {
        self.pid = pid
        self.onReaped = onReaped
    }

    /// Signals the orphan: its whole group if it leads one (a daemon after setsid), else itself.
    @discardableResult func signal(_ signal: Int32) -> Bool {
        reaped.withLock { reaped in
            guard !reaped else { return false }
            if getpgid(pid) == pid { return signalProcessGroup(pid, signal) }
            return kill(pid, signal) == 0
        }
    }

    /// Waits until reaped; nil if `timeout` passes first.
    func waitForExit(timeout: Duration?) async -> ExitStatus? {
        await waiters.wait(timeout: timeout)
    }

    func reapIfExited() -> Bool {
        let status: ExitStatus? = reaped.withLock { reaped in
            guard !reaped, wa_child_has_exited(pid) != 0 else { return nil }
            var waitStatus: Int32 = 0
            let collected = waitpid(pid, &waitStatus, WNOHANG) == pid
            reaped = true
            return collected ? ExitStatus(waitStatus: waitStatus) : .exited(-1)
        }
        guard let status else { return reaped.withLock { $0 } }
        ChildRegistry.shared.release(pid)
        waiters.finish(with: status)
        onReaped(pid)
        return true
    }
}
