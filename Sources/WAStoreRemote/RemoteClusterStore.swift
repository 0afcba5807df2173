import Foundation
import NIOCore
import WACore
import WACoordination
import WAStore
import WAWire

/// The storage contract, served by the db node (`wacluster db`) over node RPC: what every node
/// of the embedded engine uses. Each call has a deadline; a db node that cannot be reached is
/// re-dialled with a capped, growing backoff, during which calls fail at once.
public final class RemoteClusterStore: ClusterStore, Sendable {
    public let engine = DatabaseEngine.sqlite
    public let location: String
    let client: RPCClient
    let timeout: Double
    private let backoff = Locked(ReconnectBackoff())

    /// `timeout` is in real seconds and covers connecting and the answer.
    public init(address: HostPort, addressBook: PeerAddressBook, keyring: ClusterKeyring, group: EventLoopGroup, timeout: Double) {
        self.location = "db node at \(address)"
        self.client = RPCClient(peer: address, addressBook: addressBook, keyring: keyring, group: group)
        self.timeout = timeout
    }

    func call(_ request: StoreRequest) async throws -> StoreResponse {
        if let wait = backoff.withLock({ $0.wait() }) {
            throw StoreError(.unavailable, "the \(location) is unreachable; reconnecting in \(String(format: "%.2f", wait))s")
        }
        let response: StoreResponse
        do {
            response = try await client.call(StoreCall.self, request, timeout: timeout)
            backoff.withLock { $0.succeeded() }
        } catch let e as RPCError {
            switch e.kind {
            case .unreachable:
                backoff.withLock { $0.failed() }
                throw StoreError(.unavailable, "cannot reach the \(location): \(e.detail); \(request.name) was not carried out")
            case .timeout, .closed:
                throw StoreError(.timeout, "the \(location) gave no answer to \(request.name) (\(e.kind.rawValue)); it may or may not have been carried out")
            case .refused:
                backoff.withLock { $0.failed() }
                throw StoreError(.unavailable, "the \(location) refused this node: \(e.detail); check that both have the same WA_DB_PASSWORD / \(ClusterSecret.variable)")
            case .malformed:
                throw StoreError(.failed, "the \(location) answered \(request.name) with something unreadable: \(e.detail)")
            }
        } catch let e as APIError {
            throw StoreError(.failed, "the \(location) refused \(request.name): \(e.details)")
        }
        if case .failure(let e) = response { throw e }
        return response
    }

    func unexpected(_ r: StoreResponse, _ request: String) -> StoreError {
        StoreError(.failed, "the \(location) answered \(request) with \(r); is it the same release as this node?")
    }

    func done(_ request: StoreRequest) async throws {
        let r = try await call(request)
        guard case .done = r else { throw unexpected(r, request.name) }
    }
    func bool(_ request: StoreRequest) async throws -> Bool {
        let r = try await call(request)
        guard case .bool(let v) = r else { throw unexpected(r, request.name) }
        return v
    }
    func int(_ request: StoreRequest) async throws -> Int {
        let r = try await call(request)
        guard case .int(let v) = r else { throw unexpected(r, request.name) }
        return v
    }

    public func schemaVersion() async throws -> Int { try await int(.schemaVersion) }
    /// Hands the db node this release's migrations: it may be of an older release (it is
    /// upgraded like any node) and not know the newest ones.
    public func migrate(to version: Int, scripts: [MigrationScript]?) async throws -> MigrationResult {
        let r = try await call(.migrate(to: version, scripts: scripts ?? SQLMigrations.scripts(for: engine)))
        guard case .migration(let m) = r else { throw unexpected(r, "migrate") }
        return m
    }
    public func upsertNode(_ node: NodeRecord) async throws { try await done(.upsertNode(node)) }
    public func touchNode(_ nodeID: String, at: LogicalInstant) async throws { try await done(.touchNode(nodeID, at: at)) }
    public func removeNode(_ nodeID: String) async throws { try await done(.removeNode(nodeID)) }
    public func nodes() async throws -> [NodeRecord] {
        let r = try await call(.nodes)
        guard case .nodes(let v) = r else { throw unexpected(r, "nodes") }
        return v
    }
    public func acquireMasterLease(node: String, ttl: Double) async throws -> LeaseStatus {
        let r = try await call(.acquireMasterLease(node: node, ttl: ttl))
        guard case .lease(let v) = r else { throw unexpected(r, "acquireMasterLease") }
        return v
    }
    public func renewMasterLease(node: String, term: Int, ttl: Double) async throws -> Bool {
        try await bool(.renewMasterLease(node: node, term: term, ttl: ttl))
    }
    public func releaseMasterLease(node: String, term: Int) async throws { try await done(.releaseMasterLease(node: node, term: term)) }
    public func masterLease() async throws -> LeaseStatus {
        let r = try await call(.masterLease)
        guard case .lease(let v) = r else { throw unexpected(r, "masterLease") }
        return v
    }
    public func account() async throws -> AccountRecord? {
        let r = try await call(.account)
        guard case .account(let v) = r else { throw unexpected(r, "account") }
        return v
    }
    public func saveAccount(_ account: AccountRecord, guard g: MasterGuard) async throws -> Bool { try await bool(.saveAccount(account, guard: g)) }
    public func shardMap() async throws -> ShardMapSnapshot {
        let r = try await call(.shardMap)
        guard case .shardMap(let v) = r else { throw unexpected(r, "shardMap") }
        return v
    }
    public func assignShard(_ shard: Int, to node: String, guard g: MasterGuard) async throws -> ShardAssignment? {
        let r = try await call(.assignShard(shard, to: node, guard: g))
        guard case .assignment(let v) = r else { throw unexpected(r, "assignShard") }
        return v
    }
    public func setShardCount(_ count: Int, guard g: MasterGuard) async throws -> Bool { try await bool(.setShardCount(count, guard: g)) }
    public func acquireShardLease(shard: Int, epoch: Int, node: String, ttl: Double) async throws -> ShardLeaseAnswer {
        let r = try await call(.acquireShardLease(shard: shard, epoch: epoch, node: node, ttl: ttl))
        guard case .shardLease(let v) = r else { throw unexpected(r, "acquireShardLease") }
        return v
    }
    public func renewShardLease(shard: Int, epoch: Int, node: String, ttl: Double) async throws -> Bool {
        try await bool(.renewShardLease(shard: shard, epoch: epoch, node: node, ttl: ttl))
    }
    public func releaseShard(shard: Int, epoch: Int, node: String) async throws { try await done(.releaseShard(shard: shard, epoch: epoch, node: node)) }
    public func reportHeartbeats(master: String, at: LogicalInstant, lastAnswered: [String: LogicalInstant]) async throws {
        try await done(.reportHeartbeats(master: master, at: at, lastAnswered: lastAnswered))
    }
    public func peerReports(excluding master: String) async throws -> [PeerReport] {
        let r = try await call(.peerReports(excluding: master))
        guard case .peerReports(let v) = r else { throw unexpected(r, "peerReports") }
        return v
    }
    public func settings() async throws -> SettingsRecord {
        let r = try await call(.settings)
        guard case .settings(let v) = r else { throw unexpected(r, "settings") }
        return v
    }
    public func saveSettings(_ settings: ApplicationSettings) async throws -> Int { try await int(.saveSettings(settings)) }
    public func user(_ name: String) async throws -> UserRecord? {
        let r = try await call(.user(name))
        guard case .user(let v) = r else { throw unexpected(r, "user") }
        return v
    }
    public func users() async throws -> [UserRecord] {
        let r = try await call(.users)
        guard case .users(let v) = r else { throw unexpected(r, "users") }
        return v
    }
    public func saveUser(_ user: UserRecord) async throws { try await done(.saveUser(user)) }
    public func deleteUser(_ name: String) async throws -> Bool { try await bool(.deleteUser(name)) }
    public func saveToken(_ token: TokenRecord) async throws { try await done(.saveToken(token)) }
    public func token(hash: String) async throws -> TokenRecord? {
        let r = try await call(.token(hash: hash))
        guard case .token(let v) = r else { throw unexpected(r, "token") }
        return v
    }
    public func deleteTokens(of user: String) async throws { try await done(.deleteTokens(of: user)) }
    public func clusterSecret(proposing candidate: String) async throws -> String {
        let r = try await call(.clusterSecret(proposing: candidate))
        guard case .text(let t) = r else { throw unexpected(r, "clusterSecret") }
        return t
    }
    public func document(_ name: String) async throws -> String? {
        let r = try await call(.document(name))
        guard case .optionalText(let t) = r else { throw unexpected(r, "document") }
        return t
    }
    public func saveDocument(_ name: String, body: String?) async throws { try await done(.saveDocument(name, body: body)) }
    public func eraseDeliveredContent(_ ids: [String]) async throws { try await done(.eraseDeliveredContent(ids)) }
    public func acceptMessages(_ batch: [MessageRecord]) async throws -> [String] {
        let r = try await call(.acceptMessages(batch))
        guard case .ids(let v) = r else { throw unexpected(r, "acceptMessages") }
        return v
    }
    public func applyStatuses(_ updates: [StatusUpdate], at: LogicalInstant, callbacks: CallbackStamp?) async throws -> [StatusChange] {
        let r = try await call(.applyStatuses(updates, at: at, callbacks: callbacks))
        guard case .statusChanges(let v) = r else { throw unexpected(r, "applyStatuses") }
        return v
    }
    public func pendingMessages(shard: Int, limit: Int) async throws -> [MessageRecord] {
        let r = try await call(.pendingMessages(shard: shard, limit: limit))
        guard case .messages(let v) = r else { throw unexpected(r, "pendingMessages") }
        return v
    }
    public func message(_ id: String) async throws -> MessageRecord? {
        let r = try await call(.message(id))
        guard case .message(let v) = r else { throw unexpected(r, "message") }
        return v
    }
    public func enqueueCallback(shard: Int, kind: String, payload: String, at: LogicalInstant) async throws {
        try await done(.enqueueCallback(shard: shard, kind: kind, payload: payload, at: at))
    }
    public func dueCallbacks(shard: Int, now: LogicalInstant, limit: Int) async throws -> [CallbackRecord] {
        let r = try await call(.dueCallbacks(shard: shard, now: now, limit: limit))
        guard case .callbacks(let v) = r else { throw unexpected(r, "dueCallbacks") }
        return v
    }
    public func completeCallbacks(_ ids: [Int64]) async throws { try await done(.completeCallbacks(ids)) }
    public func retryCallbacks(_ retries: [CallbackRetry], error: String) async throws { try await done(.retryCallbacks(retries, error: error)) }
    public func recordInbound(id: String, shard: Int, sender: String, body: String, at: LogicalInstant) async throws -> Bool {
        try await bool(.recordInbound(id: id, shard: shard, sender: sender, body: body, at: at))
    }
    public func dbStats() async throws -> DBStats {
        let r = try await call(.dbStats)
        guard case .stats(let v) = r else { throw unexpected(r, "dbStats") }
        return v
    }
}
