import Foundation
import Hummingbird
import HummingbirdTesting
import ShellTestKit
import Testing
import WACoordination
import WACore
import WANodes
import WAStore
import WAWebapp
import WAWire

/// The webapp of the REST API tests, over an in-process shell: a temporary store (behind a
/// `FaultyStore` the test can make fail), a manual clock and fake peers. No sockets, no processes.
struct WebappFixture {
    static let adminPassword = "Replica-Pass-1"
    static let webappKey = "waweb:w1"

    let f: ShellFixture
    let rt: NodeRuntime
    /// The runtime's store: `f.store` until told to fail.
    let store: FaultyStore

    /// `schemaReady: false` is a webapp still waiting for `dbupgrade`; `apiKey` is `WA_API_KEY`.
    init(schemaReady: Bool = true, apiKey: String? = nil) async throws {
        f = try await ShellFixture()
        let base = try f.runtime(.webapp, hostname: "waweb", nodeID: "w1", port: 9090)
        var config = base.config
        config.apiKey = apiKey
        store = FaultyStore(f.store)
        rt = NodeRuntime(config: config, nodeID: "w1", clock: f.clock, store: store, logger: base.logger, addressBook: .direct,
                         peers: f.peers, webhooks: f.webhooks)
        if schemaReady { rt.markSchemaReady() }
    }

    /// Runs `body` with Hummingbird's in-process test client on `buildWebapp`.
    func test(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await buildWebapp(runtime: rt).test(.router, body)
    }

    /// A master node row, the holder of the master lease when `primary`.
    @discardableResult
    func addMaster(_ id: String = "m1", hostname: String = "master1", port: Int = 7100, primary: Bool = true) async throws -> NodeRecord {
        let record = NodeRecord(nodeID: id, hostname: hostname, role: .master, rpcAddress: HostPort(host: "127.0.0.1", port: port + 2),
                                version: NodeRuntime.version, registeredAt: f.clock.now, heartbeatAt: f.clock.now)
        try await f.store.upsertNode(record)
        if primary {
            let lease = try await f.store.acquireMasterLease(node: id, ttl: 600)
            guard lease.holder == id else { throw FixtureError("\(id) did not get the master lease") }
        }
        return record
    }

    @discardableResult
    func addCoreapp(_ id: String = "c1", hostname: String = "wacore1", port: Int = 7110) async throws -> NodeRecord {
        let record = f.coreappRecord(id, hostname: hostname, port: port)
        try await f.store.upsertNode(record)
        return record
    }

    /// A valid bearer token for `user`, written straight into the store (no login, so it works
    /// while the schema is "not ready" and costs no password hashing).
    func plantToken(for user: String) async throws -> String {
        let token = Credentials.randomHex(bytes: 32)
        try await f.store.saveToken(TokenRecord(tokenHash: Digests.sha256Hex(token), username: user, expiresAt: rt.unixSeconds + 3600))
        return token
    }

    /// A non-admin user made the ordinary way (POST /v1/users by the admin), logged in.
    func userToken(_ client: some TestClientProtocol, admin: String, name: String = "ops-bot", password: String = "Another-123") async throws -> String {
        let created = try await client.execute(uri: "/v1/users", method: .post, headers: bearer(admin),
                                               body: ByteBuffer(string: #"{"username":"\#(name)","password":"\#(password)"}"#))
        guard created.status == .created else { throw FixtureError("creating \(name) answered \(created.status): \(String(buffer: created.body))") }
        return try await login(client, name, password)
    }
}

/// Logs in as admin the first time (setting the password) and answers the bearer token.
func loginAsAdmin(_ client: some TestClientProtocol) async throws -> String {
    try await login(client, "admin", "secret", newPassword: WebappFixture.adminPassword)
}

/// `POST /v1/users/login` that must succeed; answers the token.
func login(_ client: some TestClientProtocol, _ user: String, _ password: String, newPassword: String? = nil) async throws -> String {
    let response = try await client.execute(uri: "/v1/users/login", method: .post, headers: [.authorization: basic(user, password)],
                                            body: newPassword.map { ByteBuffer(string: #"{"new_password":"\#($0)"}"#) })
    guard response.status == .ok, let token = json(response)?["users"]?.items?.first?["token"]?.stringValue else {
        throw FixtureError("login of \(user) answered \(response.status): \(String(buffer: response.body))")
    }
    return token
}

func basic(_ user: String, _ password: String) -> String { "Basic " + Data("\(user):\(password)".utf8).base64EncodedString() }

func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)"] }

func json(_ r: TestResponse) -> JSONValue? { try? JSONValue.parse(Data(buffer: r.body)) }

extension JSONValue {
    var items: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
}

/// Sends one request and answers the response (a body given as text).
func send(_ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, headers: HTTPFields = [:], body: String? = nil)
    async throws -> TestResponse {
    try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
}

/// Sends one request and checks the product's error shape exactly: status, a JSON body
/// `{"errors":[{"code","title","details"}]}` with one entry, the code's documented title,
/// non-empty details (containing `details` when given: the field a 400 names).
@discardableResult
func expectError(_ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ uri: String, headers: HTTPFields = [:], body: String? = nil,
                 status: Int, code: Int, details: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) async throws -> TestResponse {
    let r = try await send(client, method, uri, headers: headers, body: body)
    expectErrorShape(r, "\(method) \(uri)", status: status, code: code, details: details, sourceLocation: sourceLocation)
    return r
}

/// The checks of `expectError` on a response already received.
func expectErrorShape(_ r: TestResponse, _ what: String, status: Int, code: Int, details: String? = nil,
                      sourceLocation: SourceLocation = #_sourceLocation) {
    let text = String(buffer: r.body)
    #expect(Int(r.status.code) == status, "\(what): \(text)", sourceLocation: sourceLocation)
    #expect(r.headers[.contentType] == "application/json", "\(what): content type", sourceLocation: sourceLocation)
    guard let body = json(r)?.objectValue, let errors = body["errors"]?.items, let first = errors.first else {
        Issue.record("\(what): no errors array in \(text)", sourceLocation: sourceLocation)
        return
    }
    #expect(body.keys.sorted() == ["errors"] && errors.count == 1, "\(what): \(text)", sourceLocation: sourceLocation)
    #expect(first.objectValue?.keys.sorted() == ["code", "details", "title"], "\(what): \(text)", sourceLocation: sourceLocation)
    #expect(first["code"] == .number(Double(code)), "\(what): \(text)", sourceLocation: sourceLocation)
    #expect(first["title"]?.stringValue == APIErrorCode(rawValue: code)?.title, "\(what): \(text)", sourceLocation: sourceLocation)
    let d = first["details"]?.stringValue ?? ""
    #expect(!d.isEmpty, "\(what): empty details", sourceLocation: sourceLocation)
    if let details { #expect(d.contains(details), "\(what): details \(d.debugDescription) do not contain \(details.debugDescription)", sourceLocation: sourceLocation) }
}

/// A store that forwards to another until told to fail: then every operation throws the given
/// error (a `StoreError` as a database gives, or anything else), as a database that went away would.
final class FaultyStore: ClusterStore, Sendable {
    let inner: any ClusterStore
    private let failure = Locked<(any Error & Sendable)?>(nil)
    init(_ inner: any ClusterStore) { self.inner = inner }

    func fail(with error: (any Error & Sendable)?) { failure.withLock { $0 = error } }
    private func check() throws { if let e = failure.value { throw e } }

    var engine: DatabaseEngine { inner.engine }
    var location: String { inner.location }
    func schemaVersion() async throws -> Int { try check(); return try await inner.schemaVersion() }
    func migrate(to version: Int, scripts: [MigrationScript]?) async throws -> MigrationResult { try check(); return try await inner.migrate(to: version, scripts: scripts) }
    func upsertNode(_ node: NodeRecord) async throws { try check(); try await inner.upsertNode(node) }
    func touchNode(_ nodeID: String, at: LogicalInstant) async throws { try check(); try await inner.touchNode(nodeID, at: at) }
    func removeNode(_ nodeID: String) async throws { try check(); try await inner.removeNode(nodeID) }
    func nodes() async throws -> [NodeRecord] { try check(); return try await inner.nodes() }
    func acquireMasterLease(node: String, ttl: Double) async throws -> LeaseStatus { try check(); return try await inner.acquireMasterLease(node: node, ttl: ttl) }
    func renewMasterLease(node: String, term: Int, ttl: Double) async throws -> Bool {
        try check(); return try await inner.renewMasterLease(node: node, term: term, ttl: ttl)
    }
    func releaseMasterLease(node: String, term: Int) async throws { try check(); try await inner.releaseMasterLease(node: node, term: term) }
    func masterLease() async throws -> LeaseStatus { try check(); return try await inner.masterLease() }
    func account() async throws -> AccountRecord? { try check(); return try await inner.account() }
    func saveAccount(_ account: AccountRecord, guard g: MasterGuard) async throws -> Bool { try check(); return try await inner.saveAccount(account, guard: g) }
    func shardMap() async throws -> ShardMapSnapshot { try check(); return try await inner.shardMap() }
    func assignShard(_ shard: Int, to node: String, guard g: MasterGuard) async throws -> ShardAssignment? {
        try check(); return try await inner.assignShard(shard, to: node, guard: g)
    }
    func setShardCount(_ count: Int, guard g: MasterGuard) async throws -> Bool { try check(); return try await inner.setShardCount(count, guard: g) }
    func acquireShardLease(shard: Int, epoch: Int, node: String, ttl: Double) async throws -> ShardLeaseAnswer {
        try check(); return try await inner.acquireShardLease(shard: shard, epoch: epoch, node: node, ttl: ttl)
    }
    func renewShardLease(shard: Int, epoch: Int, node: String, ttl: Double) async throws -> Bool {
        try check(); return try await inner.renewShardLease(shard: shard, epoch: epoch, node: node, ttl: ttl)
    }
    func releaseShard(shard: Int, epoch: Int, node: String) async throws { try check(); try await inner.releaseShard(shard: shard, epoch: epoch, node: node) }
    func reportHeartbeats(master: String, at: LogicalInstant, lastAnswered: [String: LogicalInstant]) async throws {
        try check(); try await inner.reportHeartbeats(master: master, at: at, lastAnswered: lastAnswered)
    }
    func peerReports(excluding master: String) async throws -> [PeerReport] { try check(); return try await inner.peerReports(excluding: master) }
    func settings() async throws -> SettingsRecord { try check(); return try await inner.settings() }
    func saveSettings(_ settings: ApplicationSettings) async throws -> Int { try check(); return try await inner.saveSettings(settings) }
    func user(_ name: String) async throws -> UserRecord? { try check(); return try await inner.user(name) }
    func users() async throws -> [UserRecord] { try check(); return try await inner.users() }
    func saveUser(_ user: UserRecord) async throws { try check(); try await inner.saveUser(user) }
    func deleteUser(_ name: String) async throws -> Bool { try check(); return try await inner.deleteUser(name) }
    func saveToken(_ token: TokenRecord) async throws { try check(); try await inner.saveToken(token) }
    func token(hash: String) async throws -> TokenRecord? { try check(); return try await inner.token(hash: hash) }
    func deleteTokens(of user: String) async throws { try check(); try await inner.deleteTokens(of: user) }
    func clusterSecret(proposing candidate: String) async throws -> String { try check(); return try await inner.clusterSecret(proposing: candidate) }
    func acceptMessages(_ batch: [MessageRecord]) async throws -> [String] { try check(); return try await inner.acceptMessages(batch) }
    func applyStatuses(_ updates: [StatusUpdate], at: LogicalInstant, callbacks: CallbackStamp?) async throws -> [StatusChange] {
        try check(); return try await inner.applyStatuses(updates, at: at, callbacks: callbacks)
    }
    func pendingMessages(shard: Int, limit: Int) async throws -> [MessageRecord] { try check(); return try await inner.pendingMessages(shard: shard, limit: limit) }
    func message(_ id: String) async throws -> MessageRecord? { try check(); return try await inner.message(id) }
    func enqueueCallback(shard: Int, kind: String, payload: String, at: LogicalInstant) async throws {
        try check(); try await inner.enqueueCallback(shard: shard, kind: kind, payload: payload, at: at)
    }
    func dueCallbacks(shard: Int, now: LogicalInstant, limit: Int) async throws -> [CallbackRecord] {
        try check(); return try await inner.dueCallbacks(shard: shard, now: now, limit: limit)
    }
    func completeCallbacks(_ ids: [Int64]) async throws { try check(); try await inner.completeCallbacks(ids) }
    func retryCallbacks(_ retries: [CallbackRetry], error: String) async throws { try check(); try await inner.retryCallbacks(retries, error: error) }
    func recordInbound(id: String, shard: Int, sender: String, body: String, at: LogicalInstant) async throws -> Bool {
        try check(); return try await inner.recordInbound(id: id, shard: shard, sender: sender, body: body, at: at)
    }
    func dbStats() async throws -> DBStats { try check(); return try await inner.dbStats() }
    func document(_ name: String) async throws -> String? { try check(); return try await inner.document(name) }
    func saveDocument(_ name: String, body: String?) async throws { try check(); try await inner.saveDocument(name, body: body) }
    func eraseDeliveredContent(_ ids: [String]) async throws { try check(); try await inner.eraseDeliveredContent(ids) }
}

/// Something that is not a database's error, for the 500/1014 path.
struct UnexpectedFailure: Error, CustomStringConvertible { var description: String { "an unexpected failure" } }
