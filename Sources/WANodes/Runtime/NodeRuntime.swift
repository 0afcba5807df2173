import Foundation
import Logging
import NIOCore
import NIOPosix
import WACore
import WAStore
import WAWire

/// What every node process shares: identity, clock, logger, store, event loops, peers.
public final class NodeRuntime: @unchecked Sendable {
    public let config: NodeConfig
    public let nodeID: String
    public let clock: any ClusterClock
    public let timings: ClusterTimings
    public let logger: Logger
    public let store: any ClusterStore
    public let group: EventLoopGroup
    public let peers: RPCClientPool
    public let addressBook: PeerAddressBook
    public static let version = "2.53.2-replica"

    private let lock = NSLock()
    private var cachedSettings: (version: Int, settings: ApplicationSettings) = (0, ApplicationSettings())
    private var schemaReady = false

    public init(config: NodeConfig, clock: (any ClusterClock)? = nil, timings: ClusterTimings = .standard,
                group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        self.config = config
        self.nodeID = try NodeIdentity.loadOrCreate(dataDirectory: config.dataDirectory)
        let clock = clock ?? ScaledSystemClock(scale: config.timeScale)
        self.clock = clock
        self.timings = timings
        self.logger = Logger.node(config.hostname, clock: clock)
        self.store = try StoreFactory.open(config.database)
        self.group = group
        self.addressBook = PeerAddressBook(overridesFile: config.peerOverridesFile)
        self.peers = RPCClientPool(addressBook: addressBook, group: group)
    }

    public var healthKey: String { "\(config.hostname):\(nodeID)" }

    /// Real seconds for a logical duration, never below a floor (timeouts need some room).
    public func real(_ logical: Double, floor: Double = 0.05) -> Double { max(floor, clock.scale.real(logical)) }

    public var settings: ApplicationSettings { lock.withLock { cachedSettings.settings } }
    public var settingsVersion: Int { lock.withLock { cachedSettings.version } }

    /// Re-reads the settings; returns true when the version changed.
    @discardableResult
    public func refreshSettings() async throws -> Bool {
        let fresh = try await store.settings()
        return lock.withLock {
            let changed = fresh.version != cachedSettings.version
            if changed { cachedSettings = fresh }
            return changed
        }
    }

    public var isSchemaReady: Bool { lock.withLock { schemaReady } }

    /// Waits (reporting `uninitialized` meanwhile) until the DB schema is at this binary's version.
    public func waitForSchema() async throws {
        var announced = false
        while true {
            if let v = try? await store.schemaVersion(), v >= SchemaInfo.latestVersion {
                lock.withLock { schemaReady = true }
                return
            }
            if !announced {
                logger.event("schema_waiting", "waiting for the DB schema (version \(SchemaInfo.latestVersion)); run `wacluster dbupgrade` or start a master")
                announced = true
            }
            try await clock.sleep(logicalSeconds: timings.tick)
        }
    }

    public func markSchemaReady() { lock.withLock { schemaReady = true } }

    private var lastDBHeartbeat: LogicalInstant?

    /// The part of every master's and coreapp's pass that is the same: the DB heartbeat (every
    /// `dbHeartbeatPeriod`) and applying changed settings. Logs, never throws.
    public func upkeep(role: NodeRole) async {
        let now = clock.now
        if lock.withLock({ lastDBHeartbeat.map { now - $0 < timings.dbHeartbeatPeriod } ?? false }) == false {
            do { try await registerSelf(role: role); lock.withLock { lastDBHeartbeat = now } }
            catch { logger.event("db_error", "DB heartbeat failed: \(error)", level: .warning) }
        }
        if (try? await refreshSettings()) == true {
            logger.event("settings_applied", "settings version \(settingsVersion) applied", ["version": "\(settingsVersion)"])
        }
    }

    /// Registers this node in the DB so masters monitor it and the webapp lists it.
    public func registerSelf(role: NodeRole) async throws {
        let now = clock.now
        try await store.upsertNode(NodeRecord(nodeID: nodeID, hostname: config.hostname, role: role, rpcAddress: config.rpcAddress,
                                              version: Self.version, registeredAt: now, heartbeatAt: now))
    }
}

public enum SchemaInfo {
    public static var latestVersion: Int { SQLiteClusterStore.latestSchemaVersion }
}
