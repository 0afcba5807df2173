import Foundation
import ProcessSupervisor
import WACore

/// Where this machine's PostgreSQL server programs are (`initdb`, `postgres`).
public struct PostgresInstallation: Sendable {
    public let binDirectory: String
    public var initdb: String { binDirectory + "/initdb" }
    public var postgres: String { binDirectory + "/postgres" }

    /// `pg_config --bindir`, then `PATH`, then the highest `/usr/lib/postgresql/N/bin`.
    public static func find() throws -> PostgresInstallation {
        let fm = FileManager.default
        var candidates: [String] = []
        if let out = try? Self.output("/usr/bin/env", ["pg_config", "--bindir"]) { candidates.append(out) }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") { candidates.append(String(dir)) }
        let versions = ((try? fm.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).compactMap(Int.init).sorted(by: >)
        candidates += versions.map { "/usr/lib/postgresql/\($0)/bin" }
        for dir in candidates where fm.isExecutableFile(atPath: dir + "/initdb") && fm.isExecutableFile(atPath: dir + "/postgres") {
            return PostgresInstallation(binDirectory: dir)
        }
        throw ClusterError("PostgreSQL is not installed: install the server (Debian: apt-get install postgresql; ci/install-deps.sh does it) or use --db sqlite")
    }

    static func output(_ executable: String, _ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        // Registered as it starts, so a supervisor's orphan sweep never reaps it under its waiter.
        let pid = try ForeignChildren.start { try p.run(); return p.processIdentifier }
        defer { ForeignChildren.finished(pid) }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ClusterError("\(executable) \(arguments.joined(separator: " ")) exited \(p.terminationStatus)") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Where PostgreSQL is, looked up once per process.
    public static let local: Result<PostgresInstallation, Error> = Result { try find() }
}

/// An initialised, never started PostgreSQL data folder: `initdb` runs once (per run, or per
/// test process) and every cluster starts a throwaway server on a copy of it. A root runner
/// runs the server as `postgres`, which PostgreSQL requires.
public final class PostgresTemplate: Sendable {
    public let installation: PostgresInstallation
    public let directory: String
    public let user: ProcessUser?
    public let superuser = "wa"
    public let password: String

    private init(installation: PostgresInstallation, directory: String, user: ProcessUser?, password: String) {
        self.installation = installation; self.directory = directory; self.user = user; self.password = password
    }

    /// The user the server runs as: the runner's own, or `postgres` when the runner is root.
    static func serverUser() throws -> ProcessUser? {
        guard getuid() == 0 else { return nil }
        guard let u = ProcessUser.named("postgres") else {
            throw ClusterError("running as root, but there is no 'postgres' user to run PostgreSQL as (PostgreSQL refuses root); install the postgresql package")
        }
        return u
    }

    /// Runs `initdb` into `directory` (which must not exist yet), with a superuser `wa` whose
    /// password is `password`, trust on local sockets and SCRAM on TCP.
    public static func create(at path: String, password: String = "Replica-Db-Pass-1", supervisor: Supervisor) async throws -> PostgresTemplate {
        // initdb runs in the data folder: every path it is given must be absolute.
        let directory = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let installation = try PostgresInstallation.local.get()
        let user = try serverUser()
        let fm = FileManager.default
        let parent = (directory as NSString).deletingLastPathComponent
        try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
        if let user { try ensureTraversable(parent, by: user) }
        let pwfile = parent + "/.pg-password-\(getpid())"
        try password.write(toFile: pwfile, atomically: true, encoding: .utf8)
        defer { try? fm.removeItem(atPath: pwfile) }
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        if let user {
            chown(directory, user.uid, user.gid)
            chown(pwfile, user.uid, user.gid)
        }
        let log = parent + "/initdb.log"
        let spec = ProcessSpec(name: "initdb-\(UUID().uuidString.prefix(8))", executable: installation.initdb,
                               arguments: ["-D", directory, "-U", "wa", "--pwfile=\(pwfile)", "--auth-local=trust",
                                           "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"],
                               environment: ["PATH": "/usr/bin:/bin", "LC_ALL": "C"], workingDirectory: directory, logFile: log, user: user)
        let p = try supervisor.spawn(spec)
        let status = await p.waitForExit(timeout: .seconds(120))
        guard status == .exited(0) else {
            p.kill()
            let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").suffix(5).joined(separator: " | ") ?? ""
            throw ClusterError("initdb failed (\(status.map { "\($0)" } ?? "timed out")): \(tail)")
        }
        return PostgresTemplate(installation: installation, directory: directory, user: user, password: password)
    }

    /// Copies the template to `destination` (a new data folder for one server), owner kept.
    public func copy(to destination: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/cp")
        p.arguments = ["-a", directory, destination]
        let pid = try ForeignChildren.start { try p.run(); return p.processIdentifier }
        defer { ForeignChildren.finished(pid) }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw ClusterError("cannot copy the PostgreSQL template to \(destination)") }
    }

    /// The server's command line: TCP on loopback only, no unix socket. `fsync=off` with
    /// `synchronous_commit=on`: a commit is written to the kernel before the client hears of it,
    /// so it survives a kill -9 of the server (the fault the suite injects), though not a crash
    /// of the machine — the same promise as the SQLite db node's `synchronous=NORMAL`.
    public func serverArguments(dataDirectory: String, port: Int, host: String = "127.0.0.1") -> [String] {
        ["-D", dataDirectory, "-p", "\(port)", "-c", "listen_addresses=\(host)", "-c", "unix_socket_directories=",
         "-c", "max_connections=200", "-c", "log_min_messages=warning", "-c", "log_connections=off",
         "-c", "fsync=off", "-c", "synchronous_commit=on", "-c", "full_page_writes=off"]
    }

    /// The server user must be able to reach its folders (a run folder under a private home
    /// would make it fail later with a less clear message).
    static func ensureTraversable(_ path: String, by user: ProcessUser) throws {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            var st = stat()
            guard stat(current, &st) == 0 else { continue }
            let mode = st.st_mode
            let ok = (st.st_uid == user.uid && mode & 0o100 != 0) || (st.st_gid == user.gid && mode & 0o010 != 0) || mode & 0o001 != 0
            guard ok else {
                throw ClusterError("PostgreSQL runs as '\(user.name)', which cannot enter \(current); put the run folder somewhere it can (e.g. under /tmp) or chmod o+x \(current)")
            }
        }
    }
}
