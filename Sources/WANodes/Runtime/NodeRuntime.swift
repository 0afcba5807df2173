import Foundation
import Logging
import NIOCore
import NIOPosix
import WACore
import WAStore
import WAWire

/// What every node process shares: identity, clock, logger, store, event loops, peers. All of
/// it is handed in, so a shell can be driven in-process by a `ManualClock` and a test store.
public final class NodeRuntime: Sendable {
    public let config: NodeConfig
    public let nodeID: String
    public let clock: any ClusterClock
    public let timings: ClusterTimings
    public let logger: Logger
    public let store: any ClusterStore
    public let group: EventLoopGroup
    /// Node RPC to other nodes (the client pool; a fake in the shells' tests).
    public let peers: any PeerCaller
    /// Webhook delivery (HTTP; a fake in the shells' tests).
    public let webhooks: any WebhookPoster
    /// Side work of the node's loops, run as children of its service task group.
    public let tasks = NodeTasks()
    public let addressBook: PeerAddressBook
    /// The cluster secret node RPC proves (see `ClusterSecret`).
    public let keyring: ClusterKeyring
    public static var version: String { ClusterRelease.version }

    private struct State {
        var cachedSettings = SettingsRecord(version: 0, settings: ApplicationSettings())
        var schemaReady = false
        var databaseProblem: String?
        var lastDBHeartbeat: LogicalInstant?
    }
    private let state = Locked(State())

    public init(config: NodeConfig, nodeID: String, clock: any ClusterClock, store: any ClusterStore, logger: Logger,
                addressBook: PeerAddressBook, timings: ClusterTimings = .standard,
                group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                peers: (any PeerCaller)? = nil, webhooks: (any WebhookPoster)? = nil) {
        self.config = config
        self.nodeID = nodeID
        self.clock = clock
        self.timings = timings
        self.logger = logger
        self.store = store
        self.group = group
        self.addressBook = addressBook
        self.keyring = ClusterKeyring(config.clusterSecret)
        self.peers = peers ?? RPCClientPool(addressBook: addressBook, keyring: keyring, group: group)
        self.webhooks = webhooks ?? NoWebhookPoster()
    }

    /// The runtime of a node process: its id from its data folder, the scaled system clock, a
    /// JSON-lines logger on stdout, and the store `config.database` names.
    public static func open(config: NodeConfig, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws -> NodeRuntime {
        let clock: any ClusterClock = config.clockControlFile.map { SkewableClock(scale: config.timeScale, controlFile: $0) }
            ?? ScaledSystemClock(scale: config.timeScale)
        let addressBook = PeerAddressBook(overridesFile: config.peerOverridesFile)
        let store = try StoreFactory.open(config, clock: clock, addressBook: addressBook, group: group)
        let nodeID = try NodeIdentity.loadOrCreate(dataDirectory: config.dataDirectory)
        // Last: an HTTP client must be shut down before it goes, so nothing may throw after it exists.
        let webhooks: any WebhookPoster = config.role == .coreapp
            ? try HTTPWebhookPoster(group: group, trustedCertificatesFile: config.webhookTrustedCertificatesFile) : NoWebhookPoster()
        return NodeRuntime(config: config, nodeID: nodeID, clock: clock,
                           store: store, logger: Logger.node(config.hostname, clock: clock), addressBook: addressBook, group: group,
                           webhooks: webhooks)
    }

    public var healthKey: String { "\(config.hostname):\(nodeID)" }

    /// Unix seconds by the injected clock, for webhook `timestamp` fields.
    public var unixTime: Int { Int(unixSeconds) }
    /// Unix time in real seconds by the injected clock (token expiry is real time, whatever the scale).
    public var unixSeconds: Double { clock.scale.real(clock.now.seconds) }

    /// Real seconds for a logical duration, never below a floor (timeouts need some room).
    public func real(_ logical: Double, floor: Double = 0.05) -> Double { max(floor, clock.scale.real(logical)) }

    public var settings: ApplicationSettings { state.withLock { $0.cachedSettings.settings } }
    public var settingsVersion: Int { state.withLock { $0.cachedSettings.version } }

    /// Re-reads the settings; returns true when the version changed.
    @discardableResult
    public func refreshSettings() async throws -> Bool {
        let fresh = try await store.settings()
        return state.withLock { s in
            let changed = fresh.version != s.cachedSettings.version
            if changed { s.cachedSettings = fresh }
            return changed
        }
    }

    public var isSchemaReady: Bool { state.withLock { $0.schemaReady } }

    /// Why the database cannot be used right now, or nil.
    public var databaseUnavailable: String? { state.withLock { $0.databaseProblem } }

    /// Records whether the last database call worked, logging only the changes: one line when
    /// the database goes away (with the reason), one when it is back.
    public func noteDatabase(_ error: Error?) {
        let problem = error.map { "\($0)" }
        let (was, now) = state.withLock { s -> (String?, String?) in
            let was = s.databaseProblem
            s.databaseProblem = problem
            return (was, problem)
        }
        switch (was, now) {
        case (nil, let p?):
            logger.event("db_unreachable", "the database (\(store.location)) cannot be used: \(p); retrying", ["reason": p], level: .warning)
        case (_?, nil):
            logger.event("db_reachable", "the database (\(store.location)) answers again")
        default: break
        }
    }

    /// Waits (reporting `uninitialized` meanwhile) until the DB schema is at this binary's version.
    public func waitForSchema() async throws {
        var announced = false
        while true {
            do {
                let v = try await store.schemaVersion()
                noteDatabase(nil)
                if let refusal = ClusterSchema.refusal(database: v) { throw refusal }
                if v >= ClusterSchema.version {
                    state.withLock { $0.schemaReady = true }
                    return
                }
                if !announced {
                    logger.event("schema_waiting", "waiting for the DB schema (version \(ClusterSchema.version)); run `wacluster dbupgrade` or start a master")
                    announced = true
                }
            } catch let e as StoreError where e.code == .schemaTooNew || e.code == .schemaTooOld {
                throw e
            } catch {
                noteDatabase(error)
            }
            try await clock.sleep(logicalSeconds: timings.tick)
        }
    }

    public func markSchemaReady() { state.withLock { $0.schemaReady = true } }

    /// Without `WA_CLUSTER_SECRET`, the nodes share a secret kept in the database: the first
    /// node to ask stores a generated one, every node reads the same. Retries until it has it.
    public func learnClusterSecret() async {
        guard keyring.current == nil else { return }
        while !Task.isCancelled {
            do {
                let text = try await store.clusterSecret(proposing: ClusterSecret.generateText())
                keyring.install(try ClusterSecret(text))
                logger.event("cluster_secret_loaded", "using the cluster secret kept in the database (set \(ClusterSecret.variable) to choose one)")
                return
            } catch {
                noteDatabase(error)
                try? await clock.sleep(logicalSeconds: timings.tick)
            }
        }
    }

    /// The part of every master's and coreapp's pass that is the same: the DB heartbeat (every
    /// `dbHeartbeatPeriod`) and applying changed settings. Logs, never throws.
    public func upkeep(role: NodeRole) async {
        let now = clock.now
        if state.withLock({ $0.lastDBHeartbeat.map { now - $0 < timings.dbHeartbeatPeriod } ?? false }) == false {
            do { try await registerSelf(role: role); state.withLock { $0.lastDBHeartbeat = now } }
            catch { logger.event("db_error", "DB heartbeat failed: \(error)", level: .warning) }
        }
        do {
            if try await refreshSettings() {
                logger.event("settings_applied", "settings version \(settingsVersion) applied", ["version": "\(settingsVersion)"])
            }
            noteDatabase(nil)
        } catch { noteDatabase(error) }
    }

    /// Registers this node in the DB so masters monitor it and the webapp lists it.
    public func registerSelf(role: NodeRole) async throws {
        let now = clock.now
        try await store.upsertNode(NodeRecord(nodeID: nodeID, hostname: config.hostname, role: role, rpcAddress: config.rpcAddress,
                                              version: Self.version, registeredAt: now, heartbeatAt: now, schemaVersion: ClusterSchema.version))
    }
}
