import Foundation
import ProcessSupervisor
import WACore

/// One throwaway PostgreSQL server for a whole test process: `initdb` once, started on first
/// use on a free loopback port, killed with the process (the supervisor's PDEATHSIG). Tests
/// take a fresh database each (`WA_DB_NAME_PREFIX`), so they never see each other's rows.
public actor TestPostgres {
    public static let shared = TestPostgres()

    public struct Server: Sendable {
        public let template: PostgresTemplate
        public let port: Int
        public let directory: String
        /// A configuration for a database of its own on this server.
        public func config(prefix: String = "t\(UInt32.random(in: 0...UInt32.max))") -> DatabaseConfig {
            DatabaseConfig(engine: .pgsql, hostname: "127.0.0.1", port: port, username: template.superuser,
                           password: template.password, namePrefix: prefix)
        }
    }

    private var server: Server?
    private var starting: Task<Server, Error>?
    private let supervisor = Supervisor()

    /// Whether PostgreSQL's server programs are on this machine.
    public static var isInstalled: Bool { (try? PostgresInstallation.local.get()) != nil }

    /// Whether tests must run on PostgreSQL even if that means failing (CI sets `WA_REQUIRE_POSTGRES=1`).
    public static var isRequired: Bool { ProcessInfo.processInfo.environment["WA_REQUIRE_POSTGRES"] == "1" }

    /// Tests on PostgreSQL run when it is installed, or when CI requires them (then a missing
    /// installation fails them with the line that says what to install).
    public static var shouldRun: Bool { isInstalled || isRequired }

    public func start() async throws -> Server {
        if let server { return server }
        if let starting { return try await starting.value }
        let task = Task { try await self.launch() }
        starting = task
        let s = try await task.value
        server = s
        return s
    }

    /// A template for clusters of real processes that start their own server.
    public func template() async throws -> PostgresTemplate { try await start().template }

    private func launch() async throws -> Server {
        let base = NSTemporaryDirectory() + "wacluster-tests"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        Self.sweep(base)
        let dir = "\(base)/pg-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        let template = try await PostgresTemplate.create(at: dir + "/template", supervisor: supervisor)
        let data = dir + "/data"
        try template.copy(to: data)
        let port = PortAllocator.freePorts(1)[0]
        let log = dir + "/postgres.log"
        let spec = ProcessSpec(name: "test-postgres", executable: template.installation.postgres,
                               arguments: template.serverArguments(dataDirectory: data, port: port),
                               environment: ["PATH": "/usr/bin:/bin", "LC_ALL": "C"], workingDirectory: data, logFile: log, user: template.user)
        let process = try supervisor.spawn(spec)
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: log, encoding: .utf8), text.contains("ready to accept connections") {
                return Server(template: template, port: port, directory: dir)
            }
            guard process.isAlive else { throw ClusterError("the test PostgreSQL server exited at start; see \(log)") }
            try await Polling.pause(seconds: 0.02)
        }
        throw ClusterError("the test PostgreSQL server was not ready within 30s; see \(log)")
    }

    /// Removes the folders of earlier test processes that are gone.
    static func sweep(_ base: String) {
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] where entry.hasPrefix("pg-") {
            guard let pid = Int32(entry.dropFirst(3)), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: "\(base)/\(entry)")
        }
    }
}
