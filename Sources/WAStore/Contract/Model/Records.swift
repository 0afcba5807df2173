import WACore
import WACoordination

/// A master or coreapp known to the cluster (webapps and the gateway are not listed).
public struct NodeRecord: Codable, Equatable, Sendable {
    public var nodeID: String
    public var hostname: String
    public var role: NodeRole
    public var rpcAddress: HostPort
    public var version: String
    public var registeredAt: LogicalInstant
    public var heartbeatAt: LogicalInstant
    /// The schema version the node's release needs (schema 5 on; nil: a release before 2.55
    /// wrote the row, or the database is older).
    public var schemaVersion: Int?
    public init(nodeID: String, hostname: String, role: NodeRole, rpcAddress: HostPort, version: String,
                registeredAt: LogicalInstant, heartbeatAt: LogicalInstant, schemaVersion: Int? = nil) {
        self.nodeID = nodeID; self.hostname = hostname; self.role = role; self.rpcAddress = rpcAddress
        self.version = version; self.registeredAt = registeredAt; self.heartbeatAt = heartbeatAt; self.schemaVersion = schemaVersion
    }
    /// The key used in health answers: `hostname:nodeid`.
    public var healthKey: String { "\(hostname):\(nodeID)" }
}

/// The WhatsApp account this cluster serves.
public struct AccountRecord: Codable, Equatable, Sendable {
    /// `loggedOff`: the WhatsApp server logged the cluster off (a shard change without `cert`
    /// more than 7 days after registration); a call with the right cert logs it on again.
    public enum State: String, Codable, Sendable { case pendingCode = "pending_code", registered, loggedOff = "logged_off" }
    public var cc: String
    public var phoneNumber: String
    public var vname: String
    public var state: State
    public var shards: Int
    /// When registration completed, on the database's logical clock (nil: before it, or a row
    /// written by a version that did not record it).
    public var registeredAt: LogicalInstant?
    public init(cc: String, phoneNumber: String, vname: String, state: State, shards: Int, registeredAt: LogicalInstant? = nil) {
        self.cc = cc; self.phoneNumber = phoneNumber; self.vname = vname; self.state = state; self.shards = shards
        self.registeredAt = registeredAt
    }
    public var isRegistered: Bool { state == .registered }
    /// The full number the gateway knows: country code then number.
    public var fullNumber: String { cc + phoneNumber }
}

/// A primary master's write permit: the store applies a guarded write only while this master
/// still holds the lease in this term by the database's clock, so a deposed primary's late
/// writes are refused.
public struct MasterGuard: Sendable, Equatable, Codable {
    public var nodeID: String
    public var term: Int
    public init(nodeID: String, term: Int) { self.nodeID = nodeID; self.term = term }
}

public struct ShardMapSnapshot: Equatable, Sendable, Codable {
    public var shardCount: Int
    public var rows: [ShardAssignment]
    /// The database's clock when the map was read: fences and leases are on that clock.
    public var asOf: LogicalInstant
    public init(shardCount: Int, rows: [ShardAssignment], asOf: LogicalInstant) {
        self.shardCount = shardCount; self.rows = rows; self.asOf = asOf
    }
    public func owner(of shard: Int) -> String? { rows.first { $0.shard == shard }?.owner }
    public func shard(ownedBy node: String) -> ShardAssignment? { rows.first { $0.owner == node && $0.shard < shardCount } }
}

public struct UserRecord: Codable, Equatable, Sendable {
    public var username: String
    public var passwordHash: String
    public var salt: String
    public var mustChangePassword: Bool
    public var isAdmin: Bool
    public init(username: String, passwordHash: String, salt: String, mustChangePassword: Bool, isAdmin: Bool) {
        self.username = username; self.passwordHash = passwordHash; self.salt = salt
        self.mustChangePassword = mustChangePassword; self.isAdmin = isAdmin
    }
}

/// The settings row: its version counts every save, so nodes notice a change.
public struct SettingsRecord: Codable, Equatable, Sendable {
    public var version: Int
    public var settings: ApplicationSettings
    public init(version: Int, settings: ApplicationSettings) { self.version = version; self.settings = settings }
}

public struct TokenRecord: Codable, Equatable, Sendable {
    public var tokenHash: String
    public var username: String
    /// Unix time (real seconds): tokens last 7 real days whatever the time scale.
    public var expiresAt: Double
    public init(tokenHash: String, username: String, expiresAt: Double) { self.tokenHash = tokenHash; self.username = username; self.expiresAt = expiresAt }
}
