/// Intervals of the coordination protocol, in logical seconds. The heartbeat pair comes from the
/// application settings; the rest are fixed by the product (DB monitoring) or by our design.
public struct ClusterTimings: Sendable, Equatable {
    /// Coreapps and masters write their DB heartbeat row this often (the seeds: every minute).
    public var dbHeartbeatPeriod: Double = 60
    /// A coreapp whose DB heartbeat is older than this is unhealthy (the seeds: 2 minutes).
    public var dbUnhealthyAfter: Double = 120
    /// How often the primary master scans DB heartbeats.
    public var dbCheckPeriod: Double = 5
    /// Master lease time to live, and how often the holder renews it.
    public var masterLeaseTTL: Double = 10
    public var masterLeaseRenewEvery: Double = 2
    /// Shard lease: an owner may serve only while it holds this; a successor waits it out.
    public var shardLeaseTTL: Double = 8
    public var shardLeaseRenewEvery: Double = 2
    /// An owner drops its gateway connection this long before its lease would expire, so the
    /// successor (who waits for expiry) can never overlap with it.
    public var shardLeaseSafetyMargin: Double = 2
    /// Main loop tick of masters and coreapps.
    public var tick: Double = 1
    /// How often a shard owner writes the statuses the WhatsApp server reported and delivers
    /// the callbacks that are due.
    public var callbackPass: Double = 0.1
    /// Gateway ping period and the number of missed pings after which a connection is dead.
    public var gatewayPingPeriod: Double = 1
    public var gatewayMissedPings: Int = 3
    /// How long the gateway refuses a shard after a conflict (two live connections).
    public var gatewayConflictBan: Double = 60
    /// How long the webapp waits for one node's health answer.
    public var healthTimeout: Double = 3
    /// How long a node waits for one database operation before it treats the database as gone
    /// (at least `databaseOperationFloorReal` real seconds: what a loaded machine needs).
    public var databaseOperation: Double = 3
    public static let databaseOperationFloorReal = 1.0
    /// How long the webapp waits for a shard owner to answer a send (at least `ownerCallFloorReal`
    /// real seconds): more than one database operation, so the owner's own 503 arrives first.
    public var ownerCall: Double = 5
    public static let ownerCallFloorReal = 2.0
    /// How long after registration `POST /v1/account/shards` works without `cert` (logical
    /// seconds; the seeds' 7 days). Later, such a call logs the cluster off.
    public static let shardChangeWithoutCert: Double = 7 * 86_400
    /// The longest a real-seconds backoff keeps a node from re-dialling the database.
    public static let databaseRedialCapReal = 1.0

    /// Real seconds within which `POST /v1/messages` answers while the database is away: two
    /// routing rounds (the webapp looks again once when the owner says it moved), each a map
    /// read and an owner call that gives up at its deadline.
    public func sendAnswerBoundReal(scale: TimeScale) -> Double {
        2 * (max(Self.databaseOperationFloorReal, scale.real(databaseOperation)) + max(Self.ownerCallFloorReal, scale.real(ownerCall)))
    }

    /// Real seconds from the moment the database answers again to a fully healthy cluster: a
    /// call that was waiting on the dead connection runs out (one operation's deadline), the
    /// re-dial backoff, then the masters' next lease attempt, a coreapp step to take its shard
    /// lease again, one to connect to the gateway and one for the webapp to see it.
    public func databaseRecoveryBoundReal(scale: TimeScale) -> Double {
        max(Self.databaseOperationFloorReal, scale.real(databaseOperation)) + Self.databaseRedialCapReal
            + scale.real(masterLeaseRenewEvery + 3 * tick)
    }

    public init() {}
    public static let standard = ClusterTimings()
}
