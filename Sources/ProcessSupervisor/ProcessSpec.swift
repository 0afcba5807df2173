/// What to run for one node: the same spec is reused verbatim on restart.
public struct ProcessSpec: Sendable, Hashable {
    /// Unique among the supervisor's live processes; used in events, errors and restarts.
    public var name: String
    /// An absolute or relative path, or a bare name looked up in the child's `PATH`.
    public var executable: String
    /// Arguments after argv[0] (argv[0] is `executable` as written).
    public var arguments: [String]
    /// The child's complete environment: nothing is inherited from the runner implicitly.
    public var environment: [String: String]
    /// Directory the child starts in; `nil` keeps the runner's.
    public var workingDirectory: String?
    /// stdout and stderr go here, opened in append mode so restarts add to the same file.
    public var logFile: String

    /// Creates a spec; merge `ProcessInfo.processInfo.environment` in yourself to inherit it.
    public init(name: String, executable: String, arguments: [String] = [], environment: [String: String] = [:],
                workingDirectory: String? = nil, logFile: String) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.logFile = logFile
    }
}
