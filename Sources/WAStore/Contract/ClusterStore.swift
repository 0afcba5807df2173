import WACore
import WACoordination

/// Everything the cluster keeps in its shared database, as domain operations: the storage
/// contract every backend implements (SQLite behind `wacluster db`, PostgreSQL) and every
/// node calls. Each operation is one transaction. Leases are judged by the database's clock:
/// lease calls take no `now` from the caller, so nodes whose clocks disagree cannot both hold
/// one; a node still drops its role by its own monotonic clock, counted from when it sent the
/// request, before the database could give the lease to another.
public protocol ClusterStore: Sendable {
    var engine: DatabaseEngine { get }
    /// Where the data is, for messages: a file, `host:port/database`.
    var location: String { get }

    // Schema
    /// The schema version in the database (0: empty).
    func schemaVersion() async throws -> Int
    /// Applies pending migrations up to `version`; leaves a database of the next schema as it is
    /// (see `ClusterSchema.fit`) and refuses one newer still or too old to upgrade in place.
    /// `scripts`: the migrations a newer release brings, for a database server (the db node)
    /// of an older release than its client; nil: the server's own.
    func migrate(to version: Int, scripts: [MigrationScript]?) async throws -> MigrationResult

    // Nodes
    func upsertNode(_ node: NodeRecord) async throws
    func touchNode(_ nodeID: String, at: LogicalInstant) async throws
    func removeNode(_ nodeID: String) async throws
    func nodes() async throws -> [NodeRecord]

    // Master lease (database clock)
    /// Takes the lease when it is vacant, lapsed or already ours; answers the row after the call.
    func acquireMasterLease(node: String, ttl: Double) async throws -> LeaseStatus
    /// Extends our lease by `ttl` from the database's now; false when it is not ours in `term` or lapsed.
    func renewMasterLease(node: String, term: Int, ttl: Double) async throws -> Bool
    func releaseMasterLease(node: String, term: Int) async throws
    func masterLease() async throws -> LeaseStatus

    // Account and shard map
    func account() async throws -> AccountRecord?
    /// Writes the account; false when the guard's lease is no longer held.
    func saveAccount(_ account: AccountRecord, guard: MasterGuard) async throws -> Bool
    func shardMap() async throws -> ShardMapSnapshot
    /// Gives `shard` to `node` with a new epoch, fenced until the previous owner's lease ends.
    func assignShard(_ shard: Int, to node: String, guard: MasterGuard) async throws -> ShardAssignment?
    /// Replaces the map with `count` unowned shards, fenced until every current lease ends.
    func setShardCount(_ count: Int, guard: MasterGuard) async throws -> Bool
    /// Takes the lease of the shard assigned to `node` in `epoch` once its fence has passed.
    func acquireShardLease(shard: Int, epoch: Int, node: String, ttl: Double) async throws -> ShardLeaseAnswer
    func renewShardLease(shard: Int, epoch: Int, node: String, ttl: Double) async throws -> Bool
    /// Gives up a shard on a graceful stop (after disconnecting), so it can move at once.
    func releaseShard(shard: Int, epoch: Int, node: String) async throws

    // Heartbeat monitoring
    func reportHeartbeats(master: String, at: LogicalInstant, lastAnswered: [String: LogicalInstant]) async throws
    func peerReports(excluding master: String) async throws -> [PeerReport]

    // Settings
    func settings() async throws -> SettingsRecord
    func saveSettings(_ settings: ApplicationSettings) async throws -> Int

    // Users and tokens
    func user(_ name: String) async throws -> UserRecord?
    func users() async throws -> [UserRecord]
    func saveUser(_ user: UserRecord) async throws
    func deleteUser(_ name: String) async throws -> Bool
    func saveToken(_ token: TokenRecord) async throws
    func token(hash: String) async throws -> TokenRecord?
    func deleteTokens(of user: String) async throws
    /// The cluster secret kept in the database: `candidate` is stored if there is none yet;
    /// returns the stored one (every node gets the same).
    func clusterSecret(proposing candidate: String) async throws -> String
    /// A named document the cluster keeps whole (the profile's about text, photo and business
    /// profile); nil when none was saved.
    func document(_ name: String) async throws -> String?
    /// Saves a document (nil removes it).
    func saveDocument(_ name: String, body: String?) async throws

    // Messaging
    /// Makes a batch durable in one transaction; returns each message's id (for a repeated
    /// idempotency key, the id of the message first accepted with it).
    func acceptMessages(_ batch: [MessageRecord]) async throws -> [String]
    /// Moves messages forward (never back); answers the messages that moved. With `callbacks`
    /// it queues one status callback per message that moved, in the same transaction.
    func applyStatuses(_ updates: [StatusUpdate], at: LogicalInstant, callbacks: CallbackStamp?) async throws -> [StatusChange]
    func pendingMessages(shard: Int, limit: Int) async throws -> [MessageRecord]
    func message(_ id: String) async throws -> MessageRecord?
    func enqueueCallback(shard: Int, kind: String, payload: String, at: LogicalInstant) async throws
    func dueCallbacks(shard: Int, now: LogicalInstant, limit: Int) async throws -> [CallbackRecord]
    func completeCallbacks(_ ids: [Int64]) async throws
    func retryCallbacks(_ retries: [CallbackRetry], error: String) async throws
    /// Stores an inbound message once; false when its id was already stored.
    func recordInbound(id: String, shard: Int, sender: String, body: String, at: LogicalInstant) async throws -> Bool
    /// `pass_through`: removes the content of messages the recipient has (delivered or read);
    /// their id, key and state stay, so a retry under the same key is still answered, not resent.
    func eraseDeliveredContent(_ ids: [String]) async throws
    func dbStats() async throws -> DBStats
}

/// The schema's number: part of the contract, so every backend migrates to the same version and
/// a binary knows which databases it can work with.
public enum ClusterSchema {
    /// The version this build creates and expects.
    public static let version = 5
    /// Migrations only add (tables, columns, indexes), so this release keeps working on the
    /// schema of the next one: release N-1 runs on schema N during a rolling upgrade.
    public static let newestCompatible = version + 1
    /// The oldest schema `dbupgrade` can bring to `version` in place (every migration so far
    /// is additive, so all of them); older databases need an intermediate release first.
    public static let oldestUpgradable = 1

    /// How a binary that needs schema `binary` stands with a database at schema `database`.
    public enum Fit: Equatable, Sendable {
        /// An empty database: create the schema.
        case create
        /// Older and upgradable: migrate it (dbupgrade, or a master at start).
        case upgrade(from: Int)
        case current
        /// One newer (a rolling upgrade is under way): run on it, change nothing.
        case newerCompatible(Int)
        /// Newer than this release can read: refuse with one line.
        case tooNew(Int)
        /// Older than `dbupgrade` can migrate in place: refuse with one line.
        case tooOld(Int)
    }

    public static func fit(database: Int, binary: Int = version, newestCompatible: Int = newestCompatible,
                           oldestUpgradable: Int = oldestUpgradable) -> Fit {
        if database == 0 { return .create }
        if database == binary { return .current }
        if database > binary { return database <= newestCompatible ? .newerCompatible(database) : .tooNew(database) }
        return database >= oldestUpgradable ? .upgrade(from: database) : .tooOld(database)
    }

    /// The one line a binary prints before it refuses a database, or nil when it can work with it.
    /// `release`: the release asking, when it is this binary's (a db node judges for a client
    /// of another release, and names none).
    public static func refusal(database: Int, binary: Int = version, newestCompatible: Int = newestCompatible,
                               oldestUpgradable: Int = oldestUpgradable, release: String? = ClusterRelease.version) -> StoreError? {
        let who = release.map { "release \($0)" } ?? "the node's release"
        switch fit(database: database, binary: binary, newestCompatible: newestCompatible, oldestUpgradable: oldestUpgradable) {
        case .tooNew(let v):
            return StoreError(.schemaTooNew, "the database schema is version \(v), but \(who) works with schema \(binary) to \(newestCompatible) only; run this node on a newer release")
        case .tooOld(let v):
            return StoreError(.schemaTooOld, "the database schema is version \(v), older than \(who) can upgrade in place (from \(oldestUpgradable)); run the dbupgrade of an intermediate release first")
        default:
            return nil
        }
    }

    /// What `wacluster --version` prints.
    public static var versionLine: String {
        "\(ClusterRelease.version) (schema \(version); runs on schema \(version) to \(newestCompatible))"
    }
}

extension ClusterStore {
    public func migrate(to version: Int) async throws -> MigrationResult { try await migrate(to: version, scripts: nil) }
}

/// One numbered migration of one engine, as `dbupgrade` may hand it to the db node.
public struct MigrationScript: Equatable, Sendable, Codable {
    public var version: Int
    public var engine: DatabaseEngine
    public var sql: String
    public init(version: Int, engine: DatabaseEngine, sql: String) { self.version = version; self.engine = engine; self.sql = sql }
}

public struct MigrationResult: Equatable, Sendable, Codable {
    public var from: Int
    public var to: Int
    public init(from: Int, to: Int) { self.from = from; self.to = to }
}

/// A database problem, with what to do about it.
public struct StoreError: Error, CustomStringConvertible, Sendable, Equatable, Codable {
    public enum Code: String, Sendable, Codable {
        case schemaTooNew = "SCHEMA_TOO_NEW", schemaTooOld = "SCHEMA_TOO_OLD", schemaMissing = "SCHEMA_MISSING"
        /// The database could not be reached: the operation was not carried out.
        case unavailable = "DB_UNAVAILABLE"
        /// No answer in time: the operation may or may not have been carried out.
        case timeout = "DB_TIMEOUT"
        case corrupt = "DB_CORRUPT", unsupported = "DB_UNSUPPORTED"
        /// The database refused the statement (a constraint, a syntax error: a bug or bad data).
        case failed = "DB_FAILED"
    }
    public let code: Code
    public let message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
    public var description: String { "error \(code.rawValue): \(message)" }

    /// The database was away or silent, rather than refusing the operation: retrying can help.
    public var isUnavailability: Bool { code == .unavailable || code == .timeout }
}

extension APIError {
    /// A store failure as the REST API reports it: 503/1023 while the database is away, else 500/1023.
    public static func database(_ e: StoreError) -> APIError {
        database(unavailable: e.isUnavailability, "database error: \(e.message)")
    }
}
