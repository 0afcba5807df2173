/// How a process ended.
public enum ExitStatus: Sendable, Hashable, CustomStringConvertible {
    /// It called exit with this code. -1 means the status was lost: something else in the
    /// runner reaped the child (a `waitpid(-1)` outside the supervisor).
    case exited(Int32)
    /// A signal ended it (SIGKILL from `kill()`, for example).
    case signalled(Int32)

    /// Decodes a `waitpid` status (the WIFEXITED/WTERMSIG macros are not imported into Swift).
    init(waitStatus status: Int32) {
        let terminatingSignal = status & 0x7f
        self = terminatingSignal == 0 ? .exited((status >> 8) & 0xff) : .signalled(terminatingSignal)
    }

    /// The shell's convention: the exit code, or 128 + signal number.
    public var shellCode: Int32 {
        switch self {
        case .exited(let code): return code
        case .signalled(let signal): return 128 + signal
        }
    }

    /// "exited(3)" or "signalled(SIGKILL)", for reports.
    public var description: String {
        switch self {
        case .exited(let code): return "exited(\(code))"
        case .signalled(let signal): return "signalled(\(SignalName.of(signal)))"
        }
    }
}

/// Where a managed process is in its life.
public enum ProcessState: Sendable, Hashable {
    /// Started and not yet reaped (it may be paused by `pause()`).
    case running
    /// Reaped after calling exit with this code.
    case exited(Int32)
    /// Reaped after a signal ended it.
    case signalled(Int32)

    init(_ status: ExitStatus) {
        switch status {
        case .exited(let code): self = .exited(code)
        case .signalled(let signal): self = .signalled(signal)
        }
    }
}
