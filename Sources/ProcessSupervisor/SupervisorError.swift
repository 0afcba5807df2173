import Foundation

/// Why the supervisor could not do what it was asked; `description` says what to do about it.
public enum SupervisorError: Error, Sendable, Hashable, CustomStringConvertible, LocalizedError {
    /// The spec cannot be run as written (empty name, NUL byte in an argument, ...).
    case invalidSpec(name: String, reason: String)
    /// A process with this name is running or being started.
    case nameInUse(name: String)
    /// No file at the path, or no such name in any `PATH` directory searched.
    case executableNotFound(executable: String, searched: [String])
    /// The file exists but is a directory or lacks execute permission.
    case notExecutable(path: String)
    /// The log file could not be opened for appending.
    case logFileUnavailable(path: String, errno: Int32)
    /// The child could not change into the working directory.
    case workingDirectoryUnavailable(path: String, errno: Int32)
    /// execve itself failed (wrong format, missing interpreter, ...).
    case execFailed(path: String, errno: Int32)
    /// fork failed (process or memory limits).
    case forkFailed(errno: Int32)
    /// A step of child set-up before exec failed.
    case childSetupFailed(step: String, errno: Int32)
    /// The old incarnation did not die in time, so no second copy was started.
    case couldNotStop(name: String, pid: Int32)
    /// The runner could not become a child subreaper.
    case subreaperUnavailable(errno: Int32)
    /// `shutdown` was called; no more processes are started.
    case shutDown

    /// A stable code for reports and tests.
    public var code: String {
        switch self {
        case .invalidSpec: return "invalid-spec"
        case .nameInUse: return "name-in-use"
        case .executableNotFound: return "executable-not-found"
        case .notExecutable: return "not-executable"
        case .logFileUnavailable: return "log-file-unavailable"
        case .workingDirectoryUnavailable: return "working-directory-unavailable"
        case .execFailed: return "exec-failed"
        case .forkFailed: return "fork-failed"
        case .childSetupFailed: return "child-setup-failed"
        case .couldNotStop: return "could-not-stop"
        case .subreaperUnavailable: return "subreaper-unavailable"
        case .shutDown: return "shut-down"
        }
    }

    /// What went wrong and what to do about it, prefixed with `[code]`.
    public var description: String {
        switch self {
        case let .invalidSpec(name, reason):
            return "[\(code)] process '\(name)': \(reason). Fix the process spec."
        case let .nameInUse(name):
            return "[\(code)] a process named '\(name)' is running or being started. "
                + "Use restart() on it, or kill it and wait for its exit before spawning again."
        case let .executableNotFound(executable, searched):
            let where_ = searched.isEmpty ? "" : " (searched: \(searched.joined(separator: ":")))"
            return "[\(code)] executable '\(executable)' not found\(where_). "
                + "Build it first, pass an absolute path, or put its directory in the spec's PATH."
        case let .notExecutable(path):
            return "[\(code)] '\(path)' is not an executable file. Check the path and run: chmod +x '\(path)'."
        case let .logFileUnavailable(path, error):
            return "[\(code)] cannot open log file '\(path)' for appending: \(errnoText(error)). "
                + "Create its directory and check its permissions."
        case let .workingDirectoryUnavailable(path, error):
            return "[\(code)] cannot enter working directory '\(path)': \(errnoText(error)). "
                + "Create it or fix the spec's workingDirectory."
        case let .execFailed(path, error):
            return "[\(code)] exec of '\(path)' failed: \(errnoText(error)). "
                + "Check that it is a binary for this machine or a script with a valid #! line."
        case let .forkFailed(error):
            return "[\(code)] fork failed: \(errnoText(error)). Too many processes or too little memory: "
                + "stop leftover runs or raise ulimit -u."
        case let .childSetupFailed(step, error):
            return "[\(code)] child set-up failed at \(step): \(errnoText(error)). "
                + "This points at the runner's environment (file descriptors, kernel limits)."
        case let .couldNotStop(name, pid):
            return "[\(code)] '\(name)' (pid \(pid)) did not exit after SIGKILL; not starting a second copy. "
                + "It may be stuck in the kernel (state D in /proc/\(pid)/stat)."
        case let .subreaperUnavailable(error):
            return "[\(code)] cannot become a child subreaper: \(errnoText(error)). "
                + "Orphaned grandchildren will go to init instead; they still die with their process group."
        case .shutDown:
            return "[\(code)] the supervisor has been shut down; create a new one to start processes."
        }
    }

    /// The same text as `description`, for `localizedDescription`.
    public var errorDescription: String? { description }
}

/// strerror text for an errno value, e.g. "No such file or directory".
func errnoText(_ error: Int32) -> String {
    String(cString: strerror(error)) + " (errno \(error))"
}
