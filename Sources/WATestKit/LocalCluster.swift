import Foundation
import NIOCore
import NIOPosix
import ProcessSupervisor
import WACore
import WAWire

/// The database a cluster runs on, as the `db` node of its topology.
public enum ClusterDatabase: Sendable {
    /// The embedded engine: a `wacluster db` process owning the SQLite file.
    case sqlite
    /// A throwaway PostgreSQL server of the cluster's own, on a copy of the template.
    case postgres(PostgresTemplate)
    /// An existing server (a `db.env`): no `db` process; the cluster uses its own database there.
    case external(DatabaseConfig)

    public var engine: DatabaseEngine {
        switch self { case .sqlite: .sqlite; case .postgres: .pgsql; case .external(let c): c.engine }
    }
}

/// The shape of a cluster to start on this machine.
public struct ClusterLayout: Sendable {
    public var webapps = 1
    public var masters = 2
    public var coreapps = 2
    /// Coreapps defined (names, ports, folders) but not started at boot.
    public var extraCoreapps = 0
    public var timeScale = 0.1
    public var gatewaySeed: UInt64 = 1
    public var gatewayBanSeconds: Double = 60
    public var database = ClusterDatabase.sqlite
    /// Extra environment for every node.
    public var environment: [String: String] = [:]
    /// Where each host is when it is not on loopback (`--net netns`): its own address, in its
    /// own network namespace. Empty: every node on 127.0.0.1 in the runner's namespace.
    public var hosts: [String: ClusterHost] = [:]
    public init() {}

    /// Every host the layout starts processes for: the db (unless the server is an existing
    /// one), the gateway, masters, coreapps (standbys too) and webapps.
    public var hostNames: [String] {
        let db: [String] = if case .external = database { [] } else { [ClusterNodeNames.database] }
        return db + [ClusterNodeNames.gateway] + masterNames + coreappNames + webappNames
    }

    public var webappNames: [String] { ClusterNodeNames.webapps(count: max(webapps, 1)) }
    public var masterNames: [String] { ClusterNodeNames.masters(count: masters) }
    public var coreappNames: [String] { ClusterNodeNames.coreapps(count: coreapps + extraCoreapps) }
    public var bootCoreappNames: [String] { Array(coreappNames.prefix(coreapps)) }
}

/// A host of its own for one node: the address it listens on and the namespace it runs in.
public struct ClusterHost: Sendable, Hashable {
    public var address: String
    /// The namespace file its process joins (`/run/netns/NAME`).
    public var networkNamespace: String
    public init(address: String, networkNamespace: String) { self.address = address; self.networkNamespace = networkNamespace }
}

/// One node's fixed identity: same name, folder, ports and environment across restarts.
public struct ClusterNode: Sendable {
    public var name: String
    public var role: NodeRole
    /// The address it listens on and others dial (127.0.0.1 unless it has a host of its own).
    public var host: String
    /// The network namespace its process runs in; nil: the runner's.
    public var networkNamespace: String?
    public var ports: [Int]
    public var dataDirectory: String
    public var logFile: String
    public var arguments: [String]
    public var environment: [String: String]
    /// A program other than `wacluster` (the PostgreSQL server), and the user it runs as.
    public var executable: String?
    public var user: ProcessUser?
    /// The port other nodes dial (control port for masters/coreapps, API port for webapps).
    public var servicePort: Int { role == .master || role == .coreapp ? ports[2] : ports[0] }
}

/// A cluster of real `wacluster` processes under a supervisor, with the client calls tests
/// and the chaos runner need (login, health, registration, shards, settings, events).
public final class LocalCluster: Sendable {
    public static let cc = "1"
    public static let phoneNumber = "6505551234"
    public static let password = "Replica-Pass-1"

    public let layout: ClusterLayout
    public let runDirectory: String
    public let binary: String
    public let supervisor: Supervisor
    public let group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    /// The nodes by name (defined at init; their environment may change between starts).
    public var nodes: [String: ClusterNode] { state.withLock { $0.definedNodes } }
    private struct State {
        var definedNodes: [String: ClusterNode] = [:]
        var processes: [String: ManagedProcess] = [:]
        /// Where the next readiness scan of a log starts: a restart must not match the old line.
        var readyScanFrom: [String: Int] = [:]
        var adminToken: String?
        /// The `wacluster` each node runs when it is not the cluster's default (mixed versions).
        var binaries: [String: String] = [:]
    }
    private let state = Locked(State())
    /// The admin's bearer token from the last `login`.
    public var token: String? { state.withLock { $0.adminToken } }

    public var clock: ScaledSystemClock { ScaledSystemClock(scale: (try? TimeScale(layout.timeScale)) ?? .realTime) }
    public var gateway: ClusterNode { nodes[ClusterNodeNames.gateway]! }
    public var webapp: ClusterNode { nodes[layout.webappNames[0]]! }
    public var webappAddress: HostPort { HostPort(host: webapp.host, port: webapp.ports[0]) }
    public var gatewayAddress: HostPort { HostPort(host: gateway.host, port: gateway.ports[0]) }
    /// Where a node's service port answers (what a peer dials).
    public func serviceAddress(_ name: String) -> HostPort? { nodes[name].map { HostPort(host: $0.host, port: $0.servicePort) } }
    /// The SQLite file of the embedded engine's db node.
    public var dbPath: String { runDirectory + "/wa.db" }
    /// How nodes reach the database (what their `db.env` would say).
    public let databaseConfig: DatabaseConfig
    /// Every node's `WA_CLUSTER_SECRET` (generated per cluster unless the layout sets one; set
    /// it to "" to leave nodes to the secret kept in the database). Gateway admin requests prove it.
    public let clusterSecretText: String
    public var clusterSecret: ClusterSecret { try! ClusterSecret(clusterSecretText) }
    public var hasDatabaseProcess: Bool { nodes[ClusterNodeNames.database] != nil }

    public init(layout: ClusterLayout, runDirectory: String, binary: String? = nil, supervisor: Supervisor? = nil) throws {
        guard let bin = binary ?? BinaryLocator.wacluster() else {
            throw ClusterError("cannot find the wacluster binary; build it (swift build) or set WACLUSTER_BIN")
        }
        self.layout = layout
        // Nodes run in their own folders, so every path handed to them must be absolute.
        self.runDirectory = runDirectory.hasPrefix("/") ? runDirectory : FileManager.default.currentDirectoryPath + "/" + runDirectory
        self.binary = bin
        self.supervisor = supervisor ?? Supervisor()
        self.clusterSecretText = layout.environment[ClusterSecret.variable].flatMap { $0.isEmpty ? nil : $0 } ?? ClusterSecret.generateText()
        try FileManager.default.createDirectory(atPath: self.runDirectory, withIntermediateDirectories: true)
        let dbHost = layout.hosts[ClusterNodeNames.database]?.address ?? "127.0.0.1"
        switch layout.database {
        case .sqlite:
            let port = PortAllocator.freePorts(1)[0]
            databaseConfig = DatabaseConfig(engine: .sqlite, hostname: dbHost, port: port, namePrefix: "wa")
        case .postgres(let template):
            let port = PortAllocator.freePorts(1)[0]
            databaseConfig = DatabaseConfig(engine: .pgsql, hostname: dbHost, port: port, username: template.superuser,
                                            password: template.password, namePrefix: "wa")
        case .external(let config):
            databaseConfig = config
        }
        switch layout.database {
        case .sqlite:
            define(name: ClusterNodeNames.database, role: .db, ports: [databaseConfig.port!], arguments: ["db"])
            state.withLock { $0.definedNodes[ClusterNodeNames.database]?.environment["WA_DB_PATH"] = dbPath }
        case .postgres(let template):
            let dataDirectory = "\(self.runDirectory)/\(ClusterNodeNames.database)/pgdata"
            try FileManager.default.createDirectory(atPath: "\(self.runDirectory)/\(ClusterNodeNames.database)", withIntermediateDirectories: true)
            if let user = template.user {
                chown("\(self.runDirectory)/\(ClusterNodeNames.database)", user.uid, user.gid)
                try PostgresTemplate.ensureTraversable(self.runDirectory, by: user)
            }
            try template.copy(to: dataDirectory)
            define(name: ClusterNodeNames.database, role: .db, ports: [databaseConfig.port!],
                   arguments: template.serverArguments(dataDirectory: dataDirectory, port: databaseConfig.port!, host: dbHost))
            state.withLock { s in
                s.definedNodes[ClusterNodeNames.database]?.environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C"]
                s.definedNodes[ClusterNodeNames.database]?.executable = template.installation.postgres
                s.definedNodes[ClusterNodeNames.database]?.user = template.user
                s.definedNodes[ClusterNodeNames.database]?.dataDirectory = dataDirectory
            }
        case .external:
            break
        }
        let gwPort = PortAllocator.freePorts(1)[0]
        define(name: ClusterNodeNames.gateway, role: .gateway, ports: [gwPort],
               arguments: ["gateway", "--port", "\(gwPort)", "--host", layout.hosts[ClusterNodeNames.gateway]?.address ?? "127.0.0.1", "--data-dir", "\(self.runDirectory)/gateway",
                           "--log", "\(self.runDirectory)/gateway/gateway.jsonl", "--seed", "\(layout.gatewaySeed)",
                           "--ban-seconds", "\(layout.gatewayBanSeconds)"])
        for m in layout.masterNames { define(name: m, role: .master, ports: PortAllocator.freePorts(4), arguments: ["master"]) }
        for c in layout.coreappNames { define(name: c, role: .coreapp, ports: PortAllocator.freePorts(4), arguments: ["coreapp"]) }
        for w in layout.webappNames { define(name: w, role: .webapp, ports: PortAllocator.freePorts(1), arguments: ["webapp"]) }
    }

    private func define(name: String, role: NodeRole, ports: [Int], arguments: [String]) {
        let dir = "\(runDirectory)/\(name)"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var env = layout.environment
        let db = databaseConfig
        env["WA_DB_ENGINE"] = db.engine.rawValue
        env["WA_DB_HOSTNAME"] = db.hostname
        env["WA_DB_PORT"] = db.port.map(String.init)
        env["WA_DB_USERNAME"] = db.username
        env["WA_DB_PASSWORD"] = db.password ?? (db.engine == .sqlite ? "db-\(clusterSecretText.prefix(16))" : nil)
        if layout.environment[ClusterSecret.variable] == "" {
            env[ClusterSecret.variable] = role == .gateway ? clusterSecretText : nil
        } else {
            env[ClusterSecret.variable] = clusterSecretText
        }
        env["WA_DB_NAME_PREFIX"] = db.namePrefix
        env["WA_TIME_SCALE"] = "\(layout.timeScale)"
        env["WA_DATA_DIR"] = dir
        let host = layout.hosts[name]
        env["EXTERNAL_HOSTNAME"] = host?.address ?? "127.0.0.1"
        env["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        switch role {
        case .webapp:
            env["WEBAPP_HOSTNAME"] = name
            env["WEBAPP_EXTERNAL_PORTS"] = "\(ports[0])"
        case .master, .coreapp:
            env["COREAPP_HOSTNAME"] = name
            env["COREAPP_EXTERNAL_PORTS"] = ports.map(String.init).joined(separator: ",")
        default: break
        }
        let node = ClusterNode(name: name, role: role, host: host?.address ?? "127.0.0.1", networkNamespace: host?.networkNamespace, ports: ports, dataDirectory: dir, logFile: "\(runDirectory)/\(name).log",
                               arguments: arguments, environment: env.compactMapValues { $0 })
        state.withLock { $0.definedNodes[name] = node }
    }

    /// The `wacluster` a node runs from its next start on (an upgrade moves it to another build).
    public func setBinary(_ name: String, _ path: String) {
        state.withLock { $0.binaries[name] = path == binary ? nil : path }
    }

    /// The `wacluster` a node runs (or will at its next start).
    public func binary(of name: String) -> String { state.withLock { $0.binaries[name] } ?? binary }

    /// Sets an environment variable of one node for its next start (e.g. WA_PEER_OVERRIDES).
    public func setEnvironment(_ name: String, _ key: String, _ value: String?) {
        state.withLock { $0.definedNodes[name]?.environment[key] = value }
    }

    // MARK: processes

    public func start(_ name: String) throws {
        guard let node = state.withLock({ $0.definedNodes[name] }) else { throw ClusterError("no node named \(name)") }
        var env = node.environment
        if node.role != .gateway && node.role != .db { env["WA_GATEWAY_ADDRESS"] = gatewayAddress.description }
        let spec = ProcessSpec(name: name, executable: node.executable ?? binary(of: name), arguments: node.arguments, environment: env,
                               workingDirectory: node.dataDirectory, logFile: node.logFile, user: node.user,
                               networkNamespace: node.networkNamespace)
        let logSize = (try? FileManager.default.attributesOfItem(atPath: node.logFile)[.size] as? Int) ?? 0
        let p = try supervisor.spawn(spec)
        state.withLock { s in s.processes[name] = p; s.readyScanFrom[name] = logSize }
    }

    /// Gateway, masters, the boot coreapps, then webapps. The first master is given the
    /// chance to win the lease before the others start, so who is primary (and therefore
    /// every golden health file) does not depend on a start-up race.
    public func startAll() async throws {
        if hasDatabaseProcess {
            try start(ClusterNodeNames.database)
            try await waitForDatabase(timeout: 30)
        }
        try start(ClusterNodeNames.gateway)
        if let first = layout.masterNames.first {
            try start(first)
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline, !events(first).contains(where: { if case .leaseAcquired? = $0.typed { true } else { false } }) {
                try await Polling.pause(seconds: 0.02)
            }
        }
        for n in layout.masterNames.dropFirst() + layout.bootCoreappNames + layout.webappNames { try start(n) }
    }

    /// Waits until the database accepts work: the db node logged that it serves, or PostgreSQL
    /// that it accepts connections (after crash recovery, on a restart).
    public func waitForDatabase(timeout: Double) async throws {
        guard let node = nodes[ClusterNodeNames.database] else { return }
        let from = state.withLock { $0.readyScanFrom[node.name] ?? 0 }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let data = FileManager.default.contents(atPath: node.logFile), data.count > from {
                let tail = String(decoding: data.suffix(from: from), as: UTF8.self)
                if tail.contains("ready to accept connections") || tail.contains("\"event\":\"node_started\"") { return }
            }
            if let p = process(node.name), !p.isAlive {
                throw ClusterError("the database node exited (\(p.exitStatus.map { "\($0)" } ?? "?")) before it was ready; see \(node.logFile)")
            }
            try await Polling.pause(seconds: 0.02)
        }
        throw ClusterError("the database node was not ready within \(timeout)s; see \(node.logFile)")
    }

    /// Waits until a restarted webapp, master or coreapp logs `node_started` (its port answers).
    public func waitForNodeStarted(_ name: String, timeout: Double) async throws {
        try await waitForEvent(name, "node_started", timeout: timeout)
    }

    /// Waits until a node logs `event` since its last start.
    public func waitForEvent(_ name: String, _ event: String, timeout: Double) async throws {
        guard let node = nodes[name] else { throw ClusterError("no node named \(name)") }
        let from = state.withLock { $0.readyScanFrom[name] ?? 0 }
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let data = FileManager.default.contents(atPath: node.logFile), data.count > from,
               String(decoding: data.suffix(from: from), as: UTF8.self).contains("\"event\":\"\(event)\"") { return }
            if let p = process(name), !p.isAlive {
                throw ClusterError("\(name) exited (\(p.exitStatus.map { "\($0)" } ?? "?")) before it logged \(event); see \(node.logFile)")
            }
            try await Polling.pause(seconds: 0.02)
        }
        throw ClusterError("\(name) did not log \(event) within \(timeout)s; see \(node.logFile)")
    }

    /// Runs `wacluster dbupgrade` of `binary` against this cluster's database, as an operator
    /// would before moving nodes (`extraEnvironment`: e.g. a test-only switch).
    public func dbupgrade(binary: String, extraEnvironment: [String: String] = [:], timeout: Double = 120) async throws -> DBUpgradeOutcome {
        guard let master = layout.masterNames.first, var env = nodes[master]?.environment else { throw ClusterError("the cluster has no master to copy the database settings from") }
        let dir = "\(runDirectory)/dbupgrade"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        env["WA_DATA_DIR"] = dir
        env["COREAPP_HOSTNAME"] = "dbupgrade"
        env["EXIT_ON_SUCCESS"] = "TRUE"
        for (k, v) in extraEnvironment { env[k] = v }
        let log = "\(runDirectory)/dbupgrade.log"
        let before = (try? FileManager.default.attributesOfItem(atPath: log)[.size] as? Int) ?? 0
        let started = Date()
        // It runs where the master runs: on its host, it reaches the database as the master does.
        let p = try supervisor.spawn(ProcessSpec(name: "dbupgrade", executable: binary, arguments: ["dbupgrade"], environment: env,
                                                 workingDirectory: dir, logFile: log, networkNamespace: nodes[master]?.networkNamespace))
        guard let status = await p.waitForExit(timeout: .milliseconds(Int(timeout * 1000))) else {
            p.kill()
            throw ClusterError("dbupgrade of \(binary) did not finish within \(timeout)s; see \(log)")
        }
        let text = (FileManager.default.contents(atPath: log).map { String(decoding: $0.suffix(from: min(before, $0.count)), as: UTF8.self) }) ?? ""
        let last = text.split(separator: "\n").last.map(String.init) ?? ""
        return DBUpgradeOutcome(exitCode: status.shellCode, seconds: Date().timeIntervalSince(started), lastLine: last, log: log)
    }

    /// Asks the primary master for a planned handover of `shard` (to a given standby, or the
    /// one the planner would choose); retries while no master is primary.
    public func handover(shard: Int, to: String? = nil, timeout: Double = 10) async throws -> NodeRPC.Handover.Result {
        let keyring = ClusterKeyring(clusterSecret)
        let deadline = Date().addingTimeInterval(timeout)
        var last = "no master answered"
        while Date() < deadline {
            for m in layout.masterNames {
                guard let node = nodes[m], process(m)?.isAlive == true else { continue }
                let client = RPCClient(peer: HostPort(host: node.host, port: node.servicePort), keyring: keyring, group: group)
                // A master that does not answer (paused, restarting) is not the primary to ask.
                guard let support = try? await client.call(NodeRPC.Support.self, Empty(), timeout: 2), support.role == "primary_master" else { continue }
                do {
                    return try await client.call(NodeRPC.Handover.self, .init(shard: shard, to: to), timeout: max(5, timeout))
                } catch {
                    last = "\(m): \(error)"
                    // Retried: no standby is promotable yet (one just restarted), another move is
                    // under way, or the master lost its lease meanwhile.
                    let text = "\(error)"
                    let transient = ["no healthy standby", "is not a healthy standby", "being moved", "not the primary", "lost the master lease"]
                    if !transient.contains(where: text.contains) { throw ClusterError("handover of shard \(shard) refused by \(m): \(error)") }
                }
            }
            try await Polling.pause(seconds: 0.1)
        }
        throw ClusterError("handover of shard \(shard) not done within \(timeout)s: \(last)")
    }

    public func process(_ name: String) -> ManagedProcess? { state.withLock { $0.processes[name] } }
    public var runningNames: [String] { state.withLock { $0.processes.filter { $0.value.isAlive }.map(\.key).sorted() } }

    public func kill(_ name: String) { process(name)?.kill() }
    public func terminate(_ name: String) { process(name)?.terminate() }
    public func pause(_ name: String) { process(name)?.pause() }
    public func resume(_ name: String) { process(name)?.resume() }

    /// Restarts a node with the same id, data and ports once the old process is gone.
    public func restart(_ name: String, timeout: Double = 10) async throws {
        if let p = process(name), p.isAlive {
            p.kill()
            _ = await p.waitForExit(timeout: .milliseconds(Int(timeout * 1000)))
        }
        try start(name)
    }

    /// Stops the whole supervisor (tests: one supervisor per cluster).
    public func shutdown() async {
        await supervisor.shutdown(grace: .seconds(3))
    }

    /// Stops only this cluster's processes (the runner shares one supervisor across scenarios):
    /// SIGTERM, then SIGKILL whatever is still there after `grace` seconds.
    public func stopAll(grace: Double) async {
        let live = state.withLock { $0.processes.values.filter(\.isAlive) }
        for p in live { p.resume(); p.terminate() }
        for p in live where await p.waitForExit(timeout: .milliseconds(Int(grace * 1000))) == nil {
            p.kill()
            _ = await p.waitForExit(timeout: .seconds(5))
        }
    }

    // MARK: files

    public func events(_ name: String) -> [NodeEvent] { NodeEvent.read(file: nodes[name]?.logFile ?? "") }
    public func allEvents() -> [NodeEvent] {
        nodes.keys.flatMap { events($0) }.sorted { $0.ts < $1.ts }
    }
    public func gatewayJournal() -> [JSONValue] {
        guard let data = FileManager.default.contents(atPath: "\(runDirectory)/gateway/gateway.jsonl") else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { try? JSONValue.parse(Data($0.utf8)) }
    }
    public func nodeID(_ name: String) -> String? {
        (try? String(contentsOfFile: "\(runDirectory)/\(name)/node_id", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: API

    public func api(_ method: String, _ path: String, body: JSONValue? = nil, token: String? = nil, headers: [String: String] = [:],
                    timeout: Double = 10) async throws -> HTTPResult {
        try await SimpleHTTPClient.json(method, webappAddress, path: path, token: token ?? self.token, body: body, extraHeaders: headers,
                                        group: group, timeout: timeout)
    }

    /// Logs in as admin, setting the password on first login; keeps the token.
    @discardableResult
    public func login(timeout: Double = 30) async throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        var last = ""
        while Date() < deadline {
            // The changed password first: a wrong guess counts against the login throttle.
            for (password, body) in [(Self.password, nil), ("secret", JSONValue.object(["new_password": .string(Self.password)]))] {
                let auth = "Basic " + Data("admin:\(password)".utf8).base64EncodedString()
                if let r = try? await SimpleHTTPClient.json("POST", webappAddress, path: "/v1/users/login", authorization: auth,
                                                            body: body, group: group, timeout: 5) {
                    if r.status == 200, case .array(let users)? = r.json?["users"], let t = users.first?["token"]?.stringValue {
                        state.withLock { $0.adminToken = t }
                        return t
                    }
                    last = "\(r.status) \(r.text)"
                }
            }
            try await Polling.pause(seconds: 0.1)
        }
        throw ClusterError("could not log in to \(webappAddress) within \(timeout)s: \(last)")
    }

    public func health(timeout: Double = 10) async throws -> HealthView {
        let r = try await api("GET", "/v1/health", timeout: timeout)
        guard r.status == 200, let json = r.json, let view = HealthView(json) else {
            throw ClusterError("health answered \(r.status): \(r.text)")
        }
        return view
    }

    public var cert: String { SimulatedCert(cc: Self.cc, phoneNumber: Self.phoneNumber, vname: "Replica Business").base64 }

    /// Registers the account: POST /v1/account, reads the code from the gateway, verifies.
    public func register() async throws {
        let body: JSONValue = .object(["cc": .string(Self.cc), "phone_number": .string(Self.phoneNumber),
                                       "method": .string("sms"), "cert": .string(cert)])
        let r = try await retrying { try await self.api("POST", "/v1/account", body: body) }
        if r.status == 201 { return }
        guard r.status == 202 else { throw ClusterError("POST /v1/account answered \(r.status): \(r.text)") }
        var f = GatewayFrame(.admin)
        f.op = "get_code"; f.cc = Self.cc; f.phoneNumber = Self.phoneNumber
        let answer = try await GatewayAdmin.request(f, gateway: gatewayAddress, secret: clusterSecret, group: group, timeout: 5)
        guard let code = answer.code else { throw ClusterError("gateway has no code: \(answer.reason ?? "")") }
        let v = try await retrying { try await self.api("POST", "/v1/account/verify", body: .object(["code": .string(code)])) }
        guard v.status == 201 else { throw ClusterError("POST /v1/account/verify answered \(v.status): \(v.text)") }
    }

    public func setShards(_ n: Int) async throws {
        let body: JSONValue = .object(["cc": .string(Self.cc), "phone_number": .string(Self.phoneNumber),
                                       "shards": .number(Double(n)), "cert": .string(cert)])
        let r = try await retrying { try await self.api("POST", "/v1/account/shards", body: body) }
        guard r.status == 201 else { throw ClusterError("POST /v1/account/shards answered \(r.status): \(r.text)") }
    }

    public func patchSettings(_ patch: JSONValue) async throws {
        let r = try await api("PATCH", "/v1/settings/application", body: patch)
        guard r.status == 200 else { throw ClusterError("PATCH settings answered \(r.status): \(r.text)") }
    }

    /// Retries while the answer says "no primary master reachable" (403/1011) for a while.
    func retrying(_ call: @escaping () async throws -> HTTPResult, attempts: Int = 50) async throws -> HTTPResult {
        var last: HTTPResult?
        for _ in 0..<attempts {
            let r = try await call()
            if r.status == 403 || r.status == 503, r.text.contains("1011") || r.text.contains("1017") {
                last = r
                try await Polling.pause(seconds: 0.1)
                continue
            }
            return r
        }
        return last!
    }

    /// Polls health until `condition` holds; returns the matching view or throws with the last.
    @discardableResult
    public func waitForHealth(timeout: Double, poll: Double = 0.05, _ condition: (HealthView) -> Bool) async throws -> HealthView {
        let deadline = Date().addingTimeInterval(timeout)
        var last: HealthView?
        while Date() < deadline {
            if let h = try? await health(timeout: 3) {
                last = h
                if condition(h) { return h }
            }
            try await Polling.pause(seconds: poll)
        }
        throw ClusterError("health condition not met within \(timeout)s; last: \(last?.description ?? "no answer")")
    }
}

/// How a `wacluster dbupgrade` ended: its exit code, how long it
/// took, and the last line it printed (why, when it failed).
public struct DBUpgradeOutcome: Sendable, Equatable {
    /// The shell's convention: the exit code, or 128 + the signal that ended it.
    public var exitCode: Int32
    public var seconds: Double
    public var lastLine: String
    public var log: String
}

public struct ClusterError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
