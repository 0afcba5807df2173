import CProcessShim
import Foundation
import Synchronization

/// One incarnation of a node started by a `Supervisor`; `restart()` returns the next one.
public final class ManagedProcess: ReapableChild, Sendable, CustomStringConvertible {
    /// The spec's name, shared by every incarnation.
    public let name: String
    /// This incarnation's pid.
    public let pid: Int32
    /// Its process group (equal to `pid`: every child leads its own group).
    public let pgid: Int32
    /// What was run, reused verbatim by `restart()`.
    public let spec: ProcessSpec
    /// Monotonic time of the spawn.
    public let spawnedAt: ContinuousClock.Instant

    private struct State {
        var currentState: ProcessState = .running
        var reapedAt: ContinuousClock.Instant?
        // A running child keeps its supervisor, and with it the spawner thread whose exit would
        // fire PDEATHSIG, alive. Dropped at reap so dead incarnations do not pin it forever.
        var keepSupervisorAlive: Supervisor?
        weak var supervisor: Supervisor?
    }
    private let locked: Mutex<State>
    private let waiters = ExitWaiters()

    init(spec: ProcessSpec, pid: pid_t, spawnedAt: ContinuousClock.Instant, supervisor: Supervisor) {
        self.name = spec.name
        self.pid = pid
        self.pgid = pid
        self.spec = spec
        self.spawnedAt = spawnedAt
        self.locked = Mutex(State(keepSupervisorAlive: supervisor, supervisor: supervisor))
    }

    /// running until reaped, then how it ended.
    public var state: ProcessState { locked.withLock { $0.currentState } }

    /// True until the reaper has collected its exit.
    public var isAlive: Bool { state == .running }

    /// How it ended, once reaped.
    public var exitStatus: ExitStatus? {
        switch state {
        case .running: return nil
        case .exited(let code): return .exited(code)
        case .signalled(let signal): return .signalled(signal)
        }
    }

    /// Monotonic time the exit was collected, once reaped.
    public var exitedAt: ContinuousClock.Instant? { locked.withLock { $0.reapedAt } }

    /// "name[pid]", for logs.
    public var description: String { "\(name)[\(pid)]" }

    // MARK: Faults

    /// SIGKILL to the whole process group; false if it has already been reaped.
    @discardableResult public func kill() -> Bool { signal(SIGKILL) }

    /// SIGTERM to the whole process group: the node may clean up and exit.
    @discardableResult public func terminate() -> Bool { signal(SIGTERM) }

    /// SIGSTOP to the whole process group: frozen, sockets open, no progress.
    @discardableResult public func pause() -> Bool { signal(SIGSTOP) }

    /// SIGCONT to the whole process group.
    @discardableResult public func resume() -> Bool { signal(SIGCONT) }

    /// Sends `signal` to the process group while this incarnation is unreaped; false otherwise.
    @discardableResult public func signal(_ signal: Int32) -> Bool {
        // Under the lock the reaper also takes to reap: while unreaped, the leader (alive or
        // zombie) holds the pgid, so the number cannot belong to anybody else's group.
        locked.withLock { s in
            guard s.currentState == .running else { return false }
            return signalProcessGroup(pgid, signal)
        }
    }

    /// Waits until reaped and returns how it ended; nil if `timeout` passes first.
    public func waitForExit(timeout: Duration? = nil) async -> ExitStatus? {
        await waiters.wait(timeout: timeout)
    }

    /// Stops this incarnation if needed (SIGKILL, then waits up to `stopTimeout`) and spawns the
    /// same spec again: same name, arguments, environment and log file, new pid.
    public func restart(stopTimeout: Duration = .seconds(5)) async throws -> ManagedProcess {
        guard let supervisor = locked.withLock({ $0.supervisor }) else { throw SupervisorError.shutDown }
        if isAlive {
            kill()
            if await waitForExit(timeout: stopTimeout) == nil {
                throw SupervisorError.couldNotStop(name: name, pid: pid)
            }
        }
        return try supervisor.spawn(spec)
    }

    // MARK: Reaping

    func reapIfExited() -> Bool {
        let reaped: (status: ExitStatus, at: ContinuousClock.Instant, supervisor: Supervisor?)? = locked.withLock { s in
            guard s.currentState == .running else { return nil }
            let exited = wa_child_has_exited(pid)
            guard exited != 0 else { return nil }
            if exited == 1 {
                // Container semantics: when the leader dies, the rest of its group dies with it.
                // Done before reaping, while the zombie leader still pins the group id.
                _ = signalProcessGroup(pgid, SIGKILL)
            }
            var waitStatus: Int32 = 0
            let status: ExitStatus = waitpid(pid, &waitStatus, WNOHANG) == pid
                ? ExitStatus(waitStatus: waitStatus)
                : .exited(-1) // someone else reaped it; see ExitStatus.exited
            let now = ContinuousClock.now
            s.currentState = ProcessState(status)
            s.reapedAt = now
            defer { s.keepSupervisorAlive = nil }
            return (status, now, s.keepSupervisorAlive)
        }
        guard let reaped else { return !isAlive }
        ChildRegistry.shared.release(pid)
        waiters.finish(with: reaped.status)
        reaped.supervisor?.didReap(self, status: reaped.status, at: reaped.at)
        return true
    }
}
