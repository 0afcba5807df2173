import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import WACore
import WAGateway
import WANodes
import WAStore
import WAWebapp
import WAWire

@main
struct WACluster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wacluster",
        abstract: "A node of the WhatsApp Business API HA / Multiconnect cluster replica (one node per process).",
        version: ClusterSchema.versionLine,
        subcommands: [Webapp.self, Master.self, Coreapp.self, Gateway.self, Database.self, DBUpgradeCommand.self, Cert.self, Code.self])
}

/// Flags every node shares.
struct NodeOptions: ParsableArguments {
    @Option(name: .long, help: "A file of KEY=VALUE lines (like db.env); the process environment wins over it.")
    var envFile: String?
}

/// Prints one clear line and exits non-zero: what start-up problems look like.
func fail(_ role: String, _ error: Error) -> Never {
    let text: String
    if let e = error as? ConfigError { text = e.description }
    else if "\(error)".contains("Address already in use") {
        text = ConfigError(.portInUse, variable: "port", detail: "a listening port is already in use; choose another port").description
    } else { text = "\(error)" }
    FileHandle.standardError.write(Data("wacluster \(role): \(text)\n".utf8))
    exit(1)
}

func loadRuntime(_ role: NodeRole, _ options: NodeOptions) -> NodeRuntime {
    do {
        let env = try Environment.load(envFile: options.envFile)
        return try NodeRuntime.open(config: try NodeConfig.from(env, role: role))
    } catch { fail(role.rawValue, error) }
}

func runServices(_ services: [any Service], runtime rt: NodeRuntime, role: String) async {
    let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: rt.logger)
    do { try await group.run() } catch { fail(role, error) }
}

/// Loads the runtime, starts the node's service (whatever can fail at start fails here, with
/// one line), then serves until SIGTERM.
func serveNode(_ role: NodeRole, _ options: NodeOptions, start: (NodeRuntime) async throws -> any Service) async {
    let rt = loadRuntime(role, options)
    let service: any Service
    do { service = try await start(rt) } catch { fail(role.rawValue, error) }
    await runServices([service], runtime: rt, role: role.rawValue)
}

struct Master: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a master node (competes for the master lease).")
    @OptionGroup var options: NodeOptions
    func run() async throws { await serveNode(.master, options) { try await MasterService.start(runtime: $0) } }
}

struct Coreapp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a coreapp node (standby until promoted for a shard).")
    @OptionGroup var options: NodeOptions
    func run() async throws { await serveNode(.coreapp, options) { try await CoreappService.start(runtime: $0) } }
}

struct Webapp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the webapp node (REST API on WEBAPP_EXTERNAL_PORTS).")
    @OptionGroup var options: NodeOptions
    func run() async throws {
        let rt = loadRuntime(.webapp, options)
        do { try PortProbe.ensureFree(host: rt.config.bindAddress, port: rt.config.webappPort, variable: "WEBAPP_EXTERNAL_PORTS") }
        catch { fail("webapp", error) }
        await runServices([buildWebapp(runtime: rt), WebappUpkeep(runtime: rt)], runtime: rt, role: "webapp")
    }
}

struct Database: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "db",
        abstract: "Run the database node of the embedded engine: it owns the SQLite file (WA_DB_PATH) and serves the cluster on WA_DB_PORT.")
    @OptionGroup var options: NodeOptions
    func run() async throws { await serveNode(.db, options) { try await DatabaseService.start(runtime: $0) } }
}

struct DBUpgradeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dbupgrade",
        abstract: "Migrate the DB schema to this binary's version; exit 0 on success (EXIT_ON_SUCCESS=FALSE: stay up).")
    @OptionGroup var options: NodeOptions
    func run() async throws {
        let rt = loadRuntime(.dbupgrade, options)
        do { _ = try await DBUpgrade.run(runtime: rt) } catch { fail("dbupgrade", error) }
        if rt.config.exitOnSuccess { return }
        rt.logger.event("dbupgrade_idle", "upgrade done; staying up because EXIT_ON_SUCCESS=FALSE")
        await runServices([IdleService()], runtime: rt, role: "dbupgrade")
    }
}

/// Waits for SIGTERM: what an orchestrator that restarts exited containers needs.
struct IdleService: Service {
    func run() async throws { try? await gracefulShutdown() }
}

struct Gateway: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the simulated WhatsApp server.")
    @Option(help: "Port to listen on.") var port: Int = 5222
    @Option(help: "Address to listen on.") var host: String = "127.0.0.1"
    @Option(help: "Folder for the gateway's state (registered numbers).") var dataDir: String?
    @Option(help: "JSON-lines journal of connections and frames (default: DATA_DIR/gateway.jsonl).") var log: String?
    @Option(help: "Seed for verification codes.") var seed: UInt64 = 1
    @Option(help: "Seconds (logical) a shard stays banned after a conflict.") var banSeconds: Double = 60

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535, got \(port)") }
        guard banSeconds >= 0 else { throw ValidationError("--ban-seconds must not be negative") }
    }

    func run() async throws {
        let scale: TimeScale
        do { scale = try TimeScale.from(Environment(ProcessInfo.processInfo.environment)) } catch { fail("gateway", error) }
        let clock = ScaledSystemClock(scale: scale)
        let dir = dataDir ?? NSTemporaryDirectory() + "wacluster/gateway"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var timings = ClusterTimings.standard
        timings.gatewayConflictBan = banSeconds
        let logger = Logger.node("gateway", clock: clock)
        let server: GatewayServer
        let secret: ClusterSecret
        do { secret = try GatewayAdminSecret.load(dataDirectory: dir, logger: logger) } catch { fail("gateway", error) }
        do {
            let journal = GatewayJournal(sink: try LineSink.file(atPath: log ?? dir + "/gateway.jsonl").buffered(flushInterval: 0.02), clock: clock)
            let state = GatewayState(clock: clock, timings: timings, journal: journal, logger: logger,
                                     stateFile: dir + "/accounts.json", seed: seed)
            server = try await GatewayServer.start(host: host, port: port, state: state, adminSecret: secret, group: MultiThreadedEventLoopGroup.singleton)
        } catch { fail("gateway", error) }
        logger.event("node_started", "gateway listening on \(host):\(server.port)", ["role": "gateway", "port": "\(server.port)"])
        let group = ServiceGroup(services: [IdleService()], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try? await group.run()
        await server.close()
        server.state.journal.flush()
    }
}

struct Cert: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a simulated verified-name cert (base64) for a number.")
    @Option var cc: String
    @Option var phoneNumber: String
    @Option var vname: String = "Replica Business"
    @Option(help: "Unix time after which the cert is expired.") var expires: Double?
    func run() { print(SimulatedCert(cc: cc, phoneNumber: phoneNumber, vname: vname, expires: expires).base64) }
}

struct Code: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the pending verification code the gateway sent for a number.")
    @Option(help: "host:port of the gateway.") var gateway: String
    @Option var cc: String
    @Option var phoneNumber: String
    @Option(help: "File holding the gateway's admin secret (default: WA_CLUSTER_SECRET, else DATA_DIR/admin.secret of a gateway started without it).")
    var secretFile: String?
    func run() async throws {
        guard let gw = HostPort(gateway) else { throw ValidationError("--gateway must be host:port, got \(gateway)") }
        let secret: ClusterSecret
        do {
            if let secretFile {
                guard let text = FileManager.default.contents(atPath: secretFile).map({ String(decoding: $0, as: UTF8.self) }) else {
                    throw ConfigError(.invalidValue, variable: "--secret-file", detail: "cannot read \(secretFile)")
                }
                secret = try ClusterSecret(text.trimmingCharacters(in: .whitespacesAndNewlines))
            } else if let s = try ClusterSecret.fromEnvironment(Environment(ProcessInfo.processInfo.environment)) {
                secret = s
            } else {
                throw ConfigError(.missing, variable: ClusterSecret.variable, detail: "set it (as on the gateway) or pass --secret-file DATA_DIR/admin.secret")
            }
        } catch { fail("code", error) }
        var f = GatewayFrame(.admin)
        f.op = "get_code"; f.cc = cc; f.phoneNumber = phoneNumber
        let answer = try await GatewayAdmin.request(f, gateway: gw, secret: secret, group: MultiThreadedEventLoopGroup.singleton, timeout: 5)
        guard answer.ok == true, let code = answer.code else { fail("code", ConfigError(.invalidValue, variable: "--phone-number", detail: answer.reason ?? "no code")) }
        print(code)
    }
}

/// The gateway's admin secret: `WA_CLUSTER_SECRET` when set (what masters and the runner use),
/// else one generated at first start and kept in DATA_DIR/admin.secret (mode 0600).
enum GatewayAdminSecret {
    static func load(dataDirectory dir: String, logger: Logger) throws -> ClusterSecret {
        if let s = try ClusterSecret.fromEnvironment(Environment(ProcessInfo.processInfo.environment)) { return s }
        let path = dir + "/admin.secret"
        if let data = FileManager.default.contents(atPath: path) {
            return try ClusterSecret(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let text = ClusterSecret.generateText()
        guard FileManager.default.createFile(atPath: path, contents: Data((text + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw ConfigError(.invalidValue, variable: "--data-dir", detail: "cannot write \(path)")
        }
        logger.event("admin_secret_created", "no \(ClusterSecret.variable): generated the gateway's admin secret in \(path); give masters the same value",
                     ["path": path])
        return try ClusterSecret(text)
    }
}
