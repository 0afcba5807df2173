import Foundation

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
    /// Run as this user instead of the runner's (a root runner starts PostgreSQL, which refuses
    /// root, as `postgres`); nil keeps the runner's user.
    public var user: ProcessUser?
    /// The network namespace the child joins before it execs (a file such as
    /// `/run/netns/NAME`, as `ip netns add` makes); nil keeps the runner's.
    public var networkNamespace: String?

    /// Creates a spec; merge `ProcessInfo.processInfo.environment` in yourself to inherit it.
    public init(name: String, executable: String, arguments: [String] = [], environment: [String: String] = [:],
                workingDirectory: String? = nil, logFile: String, user: ProcessUser? = nil, networkNamespace: String? = nil) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.logFile = logFile
        self.user = user
        self.networkNamespace = networkNamespace
    }
}

/// A user a child runs as.
public struct ProcessUser: Sendable, Hashable {
    public var name: String
    public var uid: UInt32
    public var gid: UInt32
    public init(name: String, uid: UInt32, gid: UInt32) { self.name = name; self.uid = uid; self.gid = gid }

    /// The account named `name` on this machine, or nil when there is none.
    public static func named(_ name: String) -> ProcessUser? {
        guard let pw = getpwnam(name) else { return nil }
        return ProcessUser(name: name, uid: pw.pointee.pw_uid, gid: pw.pointee.pw_gid)
    }
}
