import Foundation

/// What a node process is.
public enum NodeRole: String, Codable, Sendable, CaseIterable {
    case webapp, master, coreapp, gateway, db, dbupgrade
}

public enum DatabaseEngine: String, Codable, Sendable, CaseIterable {
    case sqlite = "SQLITE", pgsql = "PGSQL", mysql = "MYSQL"

    /// The name used in scenario files and on the runner's command line.
    public var scenarioName: String {
        switch self { case .sqlite: "sqlite"; case .pgsql: "postgres"; case .mysql: "mysql" }
    }

    /// The engine a scenario file or the runner's command line names (`sqlite`, `postgres`, `mysql`).
    public init?(scenarioName: String) {
        guard let engine = Self.allCases.first(where: { $0.scenarioName == scenarioName }) else { return nil }
        self = engine
    }
}

/// Where the shared database is and how to reach it (`db.env`). With the embedded engine the
/// database is a `wacluster db` process that owns the SQLite file (`WA_DB_PATH`); every other
/// node reaches it, like a server engine, at `WA_DB_HOSTNAME:WA_DB_PORT`.
public struct DatabaseConfig: Sendable, Equatable {
    public var engine: DatabaseEngine
    /// The SQLite file; only the db node opens it.
    public var sqlitePath: String?
    public var hostname: String?
    public var port: Int?
    public var username: String?
    public var password: String?
    public var namePrefix: String
    /// What nodes prove to the embedded engine's db node: `WA_CLUSTER_SECRET` when set, else
    /// `WA_DB_PASSWORD` (the embedded database's password, as a server engine has one).
    public var nodeKey: ClusterSecret?

    /// Characters the product forbids in the DB password (the seeds' `?{}&~!()^=`).
    public static let forbiddenPasswordCharacters: Set<Character> = ["?", "{", "}", "&", "~", "!", "(", ")", "^", "="]
    /// The port `wacluster db` listens on when `WA_DB_PORT` is not set.
    public static let defaultDBNodePort = 6300

    /// The database's address as nodes dial it.
    public var address: HostPort? {
        guard let hostname, let port else { return nil }
        return HostPort(host: hostname, port: port)
    }

    public init(engine: DatabaseEngine, sqlitePath: String? = nil, hostname: String? = nil, port: Int? = nil,
                username: String? = nil, password: String? = nil, namePrefix: String = "wa", nodeKey: ClusterSecret? = nil) {
        self.engine = engine; self.sqlitePath = sqlitePath; self.hostname = hostname; self.port = port
        self.username = username; self.password = password; self.namePrefix = namePrefix; self.nodeKey = nodeKey
    }

    /// The PostgreSQL database the cluster creates and uses: `<prefix>_cluster`.
    public var databaseName: String { "\(namePrefix)_cluster" }

    public static func from(_ env: Environment, role: NodeRole) throws -> DatabaseConfig {
        let engineText = (env["WA_DB_ENGINE"] ?? "SQLITE").uppercased()
        guard let engine = DatabaseEngine(rawValue: engineText) else {
            throw ConfigError(.invalidValue, variable: "WA_DB_ENGINE",
                              detail: "unknown engine '\(env["WA_DB_ENGINE"] ?? "")'; use SQLITE, PGSQL or MYSQL")
        }
        if let pw = env["WA_DB_PASSWORD"], let bad = pw.first(where: { forbiddenPasswordCharacters.contains($0) }) {
            throw ConfigError(.forbiddenCharacter, variable: "WA_DB_PASSWORD",
                              detail: "contains '\(bad)'; the password must not contain any of ?{}&~!()^= — change the DB user's password")
        }
        let prefix = env["WA_DB_NAME_PREFIX"] ?? "wa"
        guard !prefix.isEmpty, prefix.count <= 40, prefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }),
              prefix.first?.isLetter == true else {
            throw ConfigError(.invalidValue, variable: "WA_DB_NAME_PREFIX",
                              detail: "use 1 to 40 ASCII letters, digits or '_', starting with a letter; got '\(prefix)'")
        }
        var config = DatabaseConfig(engine: engine, namePrefix: prefix)
        func port(_ fallback: Int?) throws -> Int {
            guard let text = env["WA_DB_PORT"] else {
                if let fallback { return fallback }
                throw ConfigError(.missing, variable: "WA_DB_PORT", detail: "is required with WA_DB_ENGINE=\(engine.rawValue); set the database server's port")
            }
            guard let p = Int(text), (1...65535).contains(p) else {
                throw ConfigError(.invalidValue, variable: "WA_DB_PORT", detail: "expected a port number, got '\(text)'")
            }
            return p
        }
        switch (engine, role) {
        case (.sqlite, .db):
            config.nodeKey = try dbNodeKey(env)
            config.sqlitePath = try env.required("WA_DB_PATH", because: "for the db node (the SQLite file it owns)")
            config.hostname = env["WA_DB_HOSTNAME"] ?? "127.0.0.1"
            config.port = try port(defaultDBNodePort)
        case (.sqlite, .gateway):
            break
        case (.sqlite, _):
            guard let host = env["WA_DB_HOSTNAME"] else {
                let hint = env["WA_DB_PATH"] != nil ? " (WA_DB_PATH is read only by `wacluster db`, which owns the file)" : ""
                throw ConfigError(.missing, variable: "WA_DB_HOSTNAME",
                                  detail: "is required with WA_DB_ENGINE=SQLITE: nodes reach the embedded database through `wacluster db`; set WA_DB_HOSTNAME and WA_DB_PORT to its address\(hint)")
            }
            config.hostname = host
            config.port = try port(nil)
            config.nodeKey = try dbNodeKey(env)
        case (.pgsql, .db), (.mysql, .db):
            throw ConfigError(.unsupported, variable: "WA_DB_ENGINE",
                              detail: "`wacluster db` serves the embedded SQLite engine; with \(engine.rawValue) the database is your server (the runner starts PostgreSQL itself with --db postgres)")
        case (.pgsql, .gateway), (.mysql, .gateway):
            break
        case (.pgsql, _), (.mysql, _):
            config.hostname = try env.required("WA_DB_HOSTNAME", because: "with WA_DB_ENGINE=\(engine.rawValue)")
            config.username = try env.required("WA_DB_USERNAME", because: "with WA_DB_ENGINE=\(engine.rawValue)")
            config.password = try env.required("WA_DB_PASSWORD", because: "with WA_DB_ENGINE=\(engine.rawValue)")
            config.port = try port(nil)
        }
        return config
    }

    static func dbNodeKey(_ env: Environment) throws -> ClusterSecret {
        if let secret = try ClusterSecret.fromEnvironment(env) { return secret }
        guard let pw = env["WA_DB_PASSWORD"], !pw.isEmpty else {
            throw ConfigError(.missing, variable: "WA_DB_PASSWORD",
                              detail: "the embedded database (`wacluster db`) only serves nodes that know its password: set the same WA_DB_PASSWORD (or \(ClusterSecret.variable)) on the db node and every node")
        }
        return ClusterSecret(databasePassword: pw)
    }
}

/// Everything a cluster node reads at start, validated, with the real product's variable names.
public struct NodeConfig: Sendable {
    public var role: NodeRole
    /// The node's name in health keys (`COREAPP_HOSTNAME` / `WEBAPP_HOSTNAME`).
    public var hostname: String
    /// The name other nodes use to reach this one (`EXTERNAL_HOSTNAME`).
    public var externalHostname: String
    /// messaging, contacts, control, healthcheck (`COREAPP_EXTERNAL_PORTS`). The node RPC
    /// (heartbeats, health, routed API calls) listens on the control port.
    public var coreappPorts: [Int]
    public var webappPort: Int
    public var gatewayAddress: HostPort?
    public var apiKey: String?
    public var timeScale: TimeScale
    public var dataDirectory: String
    public var exitOnSuccess: Bool
    public var database: DatabaseConfig
    /// Our addition for the chaos runner: a JSON file mapping peer `host:port` to the address
    /// to dial instead (a link proxy). Re-read when it changes. Unset: plain host:port.
    public var peerOverridesFile: String?
    /// Our addition: the most PostgreSQL connections this node keeps (`WA_DB_MAX_CONNECTIONS`).
    public var databasePoolSize: Int?
    /// Chaos runner only: a file the runner writes to skew this node's clock (`WA_CLOCK_CONTROL`).
    public var clockControlFile: String?
    /// Test-only, for proving the chaos runner catches a broken build: the coreapp keeps its
    /// gateway session when its shard lease says it must leave (`WA_UNSAFE_DISABLE_FENCING=1`).
    /// Never set it on a real cluster: it lets two coreapps serve one shard.
    public var unsafeDisableFencing = false
    /// Test-only, for proving an upgrade that fails leaves the old cluster serving: `dbupgrade`
    /// exits 1 before it touches the schema (`WA_TEST_FAIL_DBUPGRADE=1`).
    public var failDBUpgrade = false
    /// The operator's cluster secret (`WA_CLUSTER_SECRET`); nil: the nodes share one kept in the database.
    public var clusterSecret: ClusterSecret?
    /// `WA_BIND_ADDRESS`: where listeners bind when the operator says (e.g. 0.0.0.0 on purpose).
    public var bindOverride: String?
    /// Where listeners bind: `WA_BIND_ADDRESS`, else the address of `EXTERNAL_HOSTNAME`; never
    /// every interface unasked.
    public var bindAddress: String { bindOverride ?? externalHostname }
    /// Webapp: real seconds a connection may take to deliver a complete request (`WA_HTTP_REQUEST_TIMEOUT`, default 30).
    public var httpRequestTimeout: Double = 30
    /// Coreapp: a PEM bundle of extra certificate authorities trusted for `https://` webhooks
    /// (`WA_WEBHOOK_CA_FILE`), beside the system's.
    public var webhookTrustedCertificatesFile: String?
    /// Webapp: connections held at most (`WA_WEBAPP_MAX_CONNECTIONS`; default half the fd limit, at most 4096).
    public var webappMaxConnections: Int = 1024

    public var controlPort: Int { coreappPorts[2] }
    public var rpcAddress: HostPort { HostPort(host: externalHostname, port: controlPort) }

    /// Half the process's file-descriptor limit, at most 4096: the rest is left for the node's
    /// own connections (database, peers, webhooks) and files.
    public static var defaultMaxConnections: Int {
        var rl = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &rl) == 0 else { return 512 }
        return max(16, min(4096, Int(rl.rlim_cur) / 2))
    }

    public static func from(_ env: Environment, role: NodeRole) throws -> NodeConfig {
        let database = try DatabaseConfig.from(env, role: role)
        let scale = try TimeScale.from(env)

        let portsText = env["COREAPP_EXTERNAL_PORTS"] ?? "6250,6251,6252,6253"
        let ports = portsText.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard ports.count == 4, ports.allSatisfy({ $0 != nil && (1...65535).contains($0!) }) else {
            throw ConfigError(.invalidValue, variable: "COREAPP_EXTERNAL_PORTS",
                              detail: "expected four ports (messaging,contacts,control,healthcheck), got '\(portsText)'")
        }
        let webText = env["WEBAPP_EXTERNAL_PORTS"] ?? "9090"
        guard let webPort = Int(webText.split(separator: ",").first.map(String.init) ?? ""), (1...65535).contains(webPort) else {
            throw ConfigError(.invalidValue, variable: "WEBAPP_EXTERNAL_PORTS", detail: "expected a port such as 9090, got '\(webText)'")
        }

        var gateway: HostPort?
        if role == .master || role == .coreapp {
            let g = try env.required("WA_GATEWAY_ADDRESS", because: "for a \(role.rawValue) (host:port of the WhatsApp server simulator)")
            guard let hp = HostPort(g) else { throw ConfigError(.invalidValue, variable: "WA_GATEWAY_ADDRESS", detail: "expected host:port, got '\(g)'") }
            gateway = hp
        }

        let defaultName: String = switch role {
        case .webapp: ClusterNodeNames.webappStem
        case .master: ClusterNodeNames.masterStem
        case .coreapp: ClusterNodeNames.coreappStem
        case .gateway: ClusterNodeNames.gateway
        case .db: ClusterNodeNames.database
        case .dbupgrade: "dbupgrade"
        }
        let hostname = (role == .webapp ? env["WEBAPP_HOSTNAME"] : env["COREAPP_HOSTNAME"]) ?? defaultName
        guard hostname.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }) else {
            throw ConfigError(.invalidValue, variable: role == .webapp ? "WEBAPP_HOSTNAME" : "COREAPP_HOSTNAME",
                              detail: "use letters, digits, '-', '_' or '.', got '\(hostname)'")
        }
        let exitText = (env["EXIT_ON_SUCCESS"] ?? "TRUE").uppercased()
        guard ["TRUE", "FALSE", "1", "0"].contains(exitText) else {
            throw ConfigError(.invalidValue, variable: "EXIT_ON_SUCCESS", detail: "expected TRUE or FALSE, got '\(exitText)'")
        }
        var poolSize: Int?
        if let text = env["WA_DB_MAX_CONNECTIONS"] {
            guard let n = Int(text), (1...64).contains(n) else {
                throw ConfigError(.invalidValue, variable: "WA_DB_MAX_CONNECTIONS", detail: "expected 1 to 64 connections, got '\(text)'")
            }
            poolSize = n
        }
        let dataDir = env["WA_DATA_DIR"] ?? (NSTemporaryDirectory() + "wacluster/\(hostname)")
        var config = NodeConfig(role: role, hostname: hostname, externalHostname: env["EXTERNAL_HOSTNAME"] ?? "127.0.0.1",
                          coreappPorts: ports.map { $0! }, webappPort: webPort, gatewayAddress: gateway,
                          apiKey: env["WA_API_KEY"], timeScale: scale, dataDirectory: dataDir,
                          exitOnSuccess: exitText == "TRUE" || exitText == "1", database: database,
                          peerOverridesFile: env["WA_PEER_OVERRIDES"], databasePoolSize: poolSize,
                          clockControlFile: env["WA_CLOCK_CONTROL"].flatMap { $0.isEmpty ? nil : $0 },
                          unsafeDisableFencing: env["WA_UNSAFE_DISABLE_FENCING"] == "1")
        config.clusterSecret = try ClusterSecret.fromEnvironment(env)
        config.failDBUpgrade = env["WA_TEST_FAIL_DBUPGRADE"] == "1"
        if let text = env["WA_HTTP_REQUEST_TIMEOUT"] {
            guard let t = Double(text), t >= 1, t <= 3600 else {
                throw ConfigError(.invalidValue, variable: "WA_HTTP_REQUEST_TIMEOUT", detail: "expected 1 to 3600 seconds, got '\(text)'")
            }
            config.httpRequestTimeout = t
        }
        config.webappMaxConnections = Self.defaultMaxConnections
        if let text = env["WA_WEBAPP_MAX_CONNECTIONS"] {
            guard let n = Int(text), (1...100_000).contains(n) else {
                throw ConfigError(.invalidValue, variable: "WA_WEBAPP_MAX_CONNECTIONS", detail: "expected 1 to 100000 connections, got '\(text)'")
            }
            config.webappMaxConnections = n
        }
        if let bind = env["WA_BIND_ADDRESS"], !bind.isEmpty {
            guard bind.allSatisfy({ $0.isHexDigit || $0 == "." || $0 == ":" }) else {
                throw ConfigError(.invalidValue, variable: "WA_BIND_ADDRESS", detail: "expected an IP address such as 0.0.0.0 or 10.0.0.5, got '\(bind)'")
            }
            config.bindOverride = bind
        }
        if let file = env["WA_WEBHOOK_CA_FILE"], !file.isEmpty {
            guard FileManager.default.isReadableFile(atPath: file) else {
                throw ConfigError(.invalidValue, variable: "WA_WEBHOOK_CA_FILE", detail: "cannot read \(file); expected a PEM file of CA certificates")
            }
            config.webhookTrustedCertificatesFile = file
        }
        return config
    }
}
