import Foundation
import Logging
import WACore
import WANodes
import WAStore
import WAStoreSQLite
import WAWire

/// A node shell in-process: a `ManualClock`, a temporary SQLite store on that clock, fake peers
/// and a fake webhook, and the node's event log in a file the test reads. No sockets, no sleeps.
public final class ShellFixture: Sendable {
    public let directory: String
    public let clock = ManualClock()
    public let store: any ClusterStore
    public let peers = FakePeers()
    public let webhooks: any WebhookPoster
    public let logPath: String
    /// While true every database call of every node fails as an unreachable database does
    /// (`cutDatabase`/`healDatabase`); the test's own checks should heal first.
    private let databaseCut = Locked(false)
    public func cutDatabase() { databaseCut.withLock { $0 = true } }
    public func healDatabase() { databaseCut.withLock { $0 = false } }
    /// Database calls (one per transaction or read) every node of the fixture has made so far.
    public var databaseCalls: Int { calls.value }
    private let calls = Locked(0)
    /// One sink for every node of the fixture, so their lines interleave instead of overwriting.
    private let sink: LineSink

    public init(webhooks: any WebhookPoster = FakeWebhook()) async throws {
        directory = NSTemporaryDirectory() + "wanodes-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        store = SQLClusterStore(source: CuttableSource(try SQLiteConnectionSource(path: directory + "/cluster.db", clock: clock), cut: databaseCut, calls: calls))
        _ = try await store.migrate(to: ClusterSchema.version)
        self.webhooks = webhooks
        logPath = directory + "/events.jsonl"
        sink = try LineSink.file(atPath: logPath)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// A runtime for one node named `hostname` with node id `nodeID`, on this fixture's parts.
    /// `gateway`: a WhatsApp server the test started (in-process); nil opens no sessions.
    public func runtime(_ role: NodeRole, hostname: String, nodeID: String, port: Int, gateway: HostPort? = nil) throws -> NodeRuntime {
        let env = Environment(["WA_DB_HOSTNAME": "127.0.0.1", "WA_DB_PORT": "6300", "WA_DB_PASSWORD": "fixture-db-password",
                               "WA_CLUSTER_SECRET": Self.clusterSecret, "COREAPP_HOSTNAME": hostname,
                               "COREAPP_EXTERNAL_PORTS": "\(port),\(port + 1),\(port + 2),\(port + 3)",
                               "WA_GATEWAY_ADDRESS": "127.0.0.1:5222", "WA_DATA_DIR": directory + "/" + hostname])
        var config = try NodeConfig.from(env, role: role)
        config.gatewayAddress = gateway  // none by default: the shells open no sessions

        return NodeRuntime(config: config, nodeID: nodeID, clock: clock, store: store,
                           logger: Logger.node(hostname, clock: clock, sink: sink), addressBook: .direct,
                           peers: peers, webhooks: webhooks)
    }

    /// The events logged so far, in order (the nodes' own log format, read as the runner reads it).
    public func events() -> [NodeEvent] { NodeEvent.read(file: logPath) }

    /// The fixture's cluster secret, which a gateway started by a test must be given too.
    public static let clusterSecret = "fixture-cluster-secret-0123456789"

    public func registerAccount(shards: Int = 1, holder: String, registeredAt: LogicalInstant? = nil) async throws {
        let lease = try await store.masterLease()
        guard lease.holder == holder else { throw FixtureError("\(holder) does not hold the master lease") }
        let term = lease.lease.term
        let saved = try await store.saveAccount(AccountRecord(cc: "1", phoneNumber: "6505551234", vname: "Fixture", state: .registered, shards: shards,
                                                                                registeredAt: registeredAt ?? clock.now),
                                                guard: MasterGuard(nodeID: holder, term: term))
        guard saved else { throw FixtureError("the account was not saved") }
    }

    public func coreappRecord(_ id: String, hostname: String, port: Int) -> NodeRecord {
        NodeRecord(nodeID: id, hostname: hostname, role: .coreapp, rpcAddress: HostPort(host: "127.0.0.1", port: port + 2),
                   version: NodeRuntime.version, registeredAt: clock.now, heartbeatAt: clock.now)
    }
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Runs `body` with the node's side work (`NodeTasks`) running beside it, as its service does.
public func withSideWork<T: Sendable>(_ rt: NodeRuntime, _ body: @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { await rt.tasks.run(); return nil }
        let value = try await body()
        group.cancelAll()
        return value
    }
}

/// Waits for `condition` while the node's side work (real SQLite writes on the store's queue)
/// catches up; nothing here sleeps. False after `seconds` of real time.
public func settles(within seconds: Double = 10, _ condition: @Sendable () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        await Task.yield()
    }
    return await condition()
}

/// Peers that answer from a table and remember every call.
public final class FakePeers: PeerCaller, Sendable {
    public struct Call: Sendable, Equatable { public var method: String; public var peer: HostPort; public var params: String }
    private let recorded = Locked<[Call]>([])
    private let answeringPeers = Locked<Set<HostPort>>([])
    /// Makes the coreapp at `peer` answer heartbeats; the others time out.
    public func answerHeartbeats(at peer: HostPort) { answeringPeers.withLock { _ = $0.insert(peer) } }
    private let handlers = Locked<[String: @Sendable (Any, HostPort) throws -> Any]>([:])
    /// Answers `method` with `answer` (which may throw, as a peer's error would travel back).
    public func answer<M: RPCMethod>(_ method: M.Type, _ answer: @escaping @Sendable (M.Params, HostPort) throws -> M.Result) {
        handlers.withLock { $0[M.name] = { params, peer in try answer(params as! M.Params, peer) } }
    }

    private let asyncHandlers = Locked<[String: @Sendable (Any, HostPort) async throws -> Any]>([:])
    /// Answers `method` by awaiting `answer`: a shell under test playing the peer (a coreapp
    /// controller answering the master).
    public func answer<M: RPCMethod>(_ method: M.Type, awaiting answer: @escaping @Sendable (M.Params, HostPort) async throws -> M.Result) {
        asyncHandlers.withLock { $0[M.name] = { params, peer in try await answer(params as! M.Params, peer) } }
    }

    public func call<M: RPCMethod>(_ method: M.Type, _ params: M.Params, on peer: HostPort, timeout: Double) async throws -> M.Result {
        recorded.withLock { $0.append(Call(method: M.name, peer: peer, params: "\(params)")) }
        if let handler = asyncHandlers.value[M.name] { return try await handler(params, peer) as! M.Result }
        if let handler = handlers.value[M.name] { return try handler(params, peer) as! M.Result }
        if M.self == NodeRPC.Heartbeat.self {
            guard answeringPeers.value.contains(peer) else { throw FixtureError("fake: \(peer) does not answer heartbeats") }
            return NodeRPC.Heartbeat.Result(nodeID: "\(peer)", shard: nil, connected: false) as! M.Result
        }
        if M.Result.self == Empty.self { return Empty() as! M.Result }
        throw FixtureError("fake: \(M.name) has no answer")
    }

    public var calls: [Call] { recorded.value }
    public func calls(_ name: String) -> [Call] { recorded.value.filter { $0.method == name } }
}

/// A webhook that answers with the statuses it is given, in turn (then 200), and keeps every body.
public actor FakeWebhook: WebhookPoster {
    private var answers: [Int]
    public private(set) var bodies: [JSONValue] = []
    public init(answers: [Int] = []) { self.answers = answers }
    public func post(_ body: Data, to target: WebhookTarget, timeout: Double) async throws -> Int {
        bodies.append((try? JSONValue.parse(body)) ?? .null)
        return answers.isEmpty ? 200 : answers.removeFirst()
    }
}

/// A gateway session that is up and keeps every frame the node sends, in order.
public final class FakeGatewayLink: GatewayLink {
    private let sent = Locked<[GatewayFrame]>([])
    public init() {}
    public var state: GatewaySession.State { .connected }
    public func send(_ frame: GatewayFrame) -> Bool {
        sent.withLock { $0.append(frame) }
        return true
    }
    public var frames: [GatewayFrame] { sent.value }
    /// How many times message `id` went out on this session.
    public func sends(of id: String) -> Int { sent.value.filter { $0.type == .message && $0.id == id }.count }
}

/// A connection source that fails every call while `cut` is set, the way the store of a node
/// cut off from its database does (`StoreError.unavailable`, at once).
final class CuttableSource: SQLConnectionSource {
    let inner: any SQLConnectionSource
    let cut: Locked<Bool>
    let calls: Locked<Int>
    init(_ inner: any SQLConnectionSource, cut: Locked<Bool>, calls: Locked<Int>) { self.inner = inner; self.cut = cut; self.calls = calls }
    var dialect: SQLDialect { inner.dialect }
    var engine: DatabaseEngine { inner.engine }
    var location: String { inner.location }
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        calls.withLock { $0 += 1 }
        if cut.value { throw StoreError(.unavailable, "the database at \(location) is cut off (test)") }
        return try await inner.withConnection(body)
    }
}
