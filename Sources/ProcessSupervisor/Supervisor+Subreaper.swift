import CProcessShim
import Foundation

extension Supervisor {
    /// Makes the runner a child subreaper (PR_SET_CHILD_SUBREAPER): descendants orphaned by a
    /// node (a daemonized database server, say) are reparented to the runner instead of init,
    /// so this supervisor can reap them and kill them at shutdown.
    ///
    /// From then on, every child of the runner that no supervisor started counts as adopted;
    /// start all of the runner's children through supervisors (not Foundation.Process), or
    /// this supervisor will reap theirs too.
    public func enableSubreaper() throws {
        let result = wa_set_child_subreaper(1)
        if result < 0 { throw SupervisorError.subreaperUnavailable(errno: -result) }
        state.withLock { $0.adoptionEnabled = true }
        reaper.setSweep { [weak self] in self?.adoptOrphans() }
        adoptOrphans()
    }

    /// Whether `enableSubreaper()` has been called.
    public var adoptsOrphans: Bool { state.withLock { $0.adoptionEnabled } }

    /// Claims children of the runner that nobody owns and has the reaper watch them.
    func adoptOrphans() {
        let runner = getpid()
        let claimed = ChildRegistry.shared.claimUnowned {
            ProcessTable.children(of: runner).map(\.pid)
        }
        for pid in claimed {
            let orphan = AdoptedOrphan(pid: pid) { [weak self] pid in
                self?.state.withLock { _ = $0.adopted.removeValue(forKey: pid) }
            }
            let shutDown = state.withLock { s -> Bool in
                s.adopted[pid] = orphan
                return s.isShutDown
            }
            if shutDown { orphan.signal(SIGKILL) } // nothing may outlive a shut-down supervisor
            reaper.watch(orphan)
        }
    }
}
