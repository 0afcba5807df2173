import WACore
import WACoordination

/// Everything the cluster keeps in its shared database, as domain operations. SQLite
/// implements it now; PostgreSQL and MySQL backends implement the same contract. Every
/// operation is atomic; the guarded ones re-check the master lease inside their transaction.
public protocol ClusterStore: Sendable {
    var engine: DatabaseEngine { get }
    var location: String { get }

    // Schema
    /// The schema version in the DB (0: empty).
    func schemaVersion() async throws -> Int
    /// Applies pending migrations up to this binary's version; returns (from, to).
    func migrate() async throws -> (from: Int, to: Int)

    // Nodes
    func upsertNode(_ node: NodeRecord) async throws
    func touchNode(_ nodeID: String, at: LogicalInstant) async throws
    func removeNode(_ nodeID: String) async throws
    func nodes() async throws -> [NodeRecord]

    // Master lease
    func acquireMasterLease(node: String, now: LogicalInstant, ttl: Double) async throws -> LeaseRecord
    func renewMasterLease(node: String, term: Int, now: LogicalInstant, ttl: Double) async throws -> Bool
    func releaseMasterLease(node: String, term: Int) async throws
    func masterLease() async throws -> LeaseRecord

    // Account and shard map
    func account() async throws -> AccountRecord?
    /// Writes the account; false when the guard's lease is no longer held.
    func saveAccount(_ account: AccountRecord, guard: MasterGuard) async throws -> Bool
    func shardMap() async throws -> ShardMapSnapshot
    /// Gives `shard` to `node` with a new epoch, fenced until the previous owner's lease ends.
    func assignShard(_ shard: Int, to node: String, guard: MasterGuard) async throws -> ShardAssignment?
    /// Replaces the map with `count` unowned shards, fenced until every current lease ends.
    func setShardCount(_ count: Int, guard: MasterGuard) async throws -> Bool
    /// Takes the lease of an assigned shard once its fence has passed; the granted end or nil.
    func acquireShardLease(shard: Int, epoch: Int, node: String, now: LogicalInstant, ttl: Double) async throws -> LogicalInstant?
    func renewShardLease(shard: Int, epoch: Int, node: String, now: LogicalInstant, ttl: Double) async throws -> Bool
    /// Gives up a shard on a graceful stop (after disconnecting), so it can move at once.
    func releaseShard(shard: Int, epoch: Int, node: String, now: LogicalInstant) async throws

    // Heartbeat monitoring
    func reportHeartbeats(master: String, at: LogicalInstant, lastAnswered: [String: LogicalInstant]) async throws
    func peerReports(excluding master: String) async throws -> [PeerReport]

    // Settings
    func settings() async throws -> (version: Int, settings: ApplicationSettings)
    func saveSettings(_ settings: ApplicationSettings) async throws -> Int

    // Users and tokens
    func user(_ name: String) async throws -> UserRecord?
    func users() async throws -> [UserRecord]
    func saveUser(_ user: UserRecord) async throws
    func deleteUser(_ name: String) async throws -> Bool
    func saveToken(_ token: TokenRecord) async throws
    func token(hash: String) async throws -> TokenRecord?
    func deleteTokens(of user: String) async throws

    // Messaging
    /// Makes a batch durable in one transaction; returns each message's id (for a repeated
    /// idempotency key, the id of the message first accepted with it).
    func acceptMessages(_ batch: [MessageRecord]) async throws -> [String]
    /// Moves messages forward (never back) and, when `callbacks` is set, queues one status
    /// callback per message that moved, all in one transaction.
    func applyStatuses(_ updates: [(id: String, state: MessageState)], at: LogicalInstant, callbacks: Bool) async throws -> Int
    func pendingMessages(shard: Int, limit: Int) async throws -> [MessageRecord]
    func message(_ id: String) async throws -> MessageRecord?
    func enqueueCallback(shard: Int, kind: String, payload: String, at: LogicalInstant) async throws
    func dueCallbacks(shard: Int, now: LogicalInstant, limit: Int) async throws -> [CallbackRecord]
    func completeCallbacks(_ ids: [Int64]) async throws
    func retryCallbacks(_ ids: [Int64], attempts: [Int64: Int], nextAttemptAt: [Int64: LogicalInstant], error: String) async throws
    /// Stores an inbound message once; false when its id was already stored.
    func recordInbound(id: String, shard: Int, sender: String, body: String, at: LogicalInstant) async throws -> Bool
    func dbStats() async throws -> DBStats
}

/// A database problem, with what to do about it.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable { case schemaTooNew = "SCHEMA_TOO_NEW", schemaMissing = "SCHEMA_MISSING",
                                          unavailable = "DB_UNAVAILABLE", corrupt = "DB_CORRUPT", unsupported = "DB_UNSUPPORTED" }
    public let code: Code
    public let message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
    public var description: String { "error \(code.rawValue): \(message)" }
}

/// Opens the store named by the configuration.
public enum StoreFactory {
    public static func open(_ config: DatabaseConfig) throws -> any ClusterStore {
        switch config.engine {
        case .sqlite:
            return try SQLiteClusterStore(path: config.sqlitePath!)
        case .pgsql, .mysql:
            throw ConfigError(.unsupported, variable: "WA_DB_ENGINE",
                              detail: "\(config.engine.rawValue) is not available in this build yet; use WA_DB_ENGINE=SQLITE with WA_DB_PATH")
        }
    }
}
