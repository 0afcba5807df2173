import Foundation
import NIOPosix
import ProcessSupervisor
import Testing
import WACore
import WAStore
import WAStoreRemote
import WATestKit
import WAWire

/// The embedded engine's database is a process of its own (`wacluster db`): nodes wait for it,
/// and a node frozen in the middle of its writes holds no lock anybody else needs.
@Suite(.serialized) struct DatabaseNodeTests {
    func nodeEvents(_ c: LocalCluster, _ name: String, _ event: String) -> [NodeEvent] { c.events(name).filter { $0.event == event } }

    @Test func nodesStartedBeforeTheDatabaseWaitWithOneLineAndCarryOnWhenItComes() async throws {
        var layout = ClusterLayout()
        layout.masters = 1; layout.coreapps = 1; layout.timeScale = 0.1
        layout.environment = ["WA_API_KEY": "test-key"]
        let dir = NSTemporaryDirectory() + "wacluster-tests/db-late-\(UUID().uuidString.prefix(8))"
        let c = try LocalCluster(layout: layout, runDirectory: dir)
        defer { Task { await c.shutdown(); try? FileManager.default.removeItem(atPath: dir) } }
        for n in ["gateway", "master1", "wacore1", "waweb"] { try c.start(n) }
        // Twenty ticks without a database: nobody exits, each says so once.
        try await Polling.pause(seconds: 2)
        for n in ["master1", "wacore1", "waweb"] {
            #expect(c.process(n)?.isAlive == true, "\(n) exited without its database")
            #expect(nodeEvents(c, n, "db_unreachable").count == 1, "\(n): \(nodeEvents(c, n, "db_unreachable").map(\.message))")
        }
        let health = try await SimpleHTTPClient.json("GET", c.webappAddress, path: "/v1/health", authorization: "Apikey test-key",
                                                     group: MultiThreadedEventLoopGroup.singleton, timeout: 5)
        #expect(health.status == 200)
        #expect(health.json?["health"]?.objectValue?.values.first?["gateway_status"]?.stringValue == "uninitialized", "\(health.text)")
        let login = try await c.api("POST", "/v1/users/login")
        #expect(login.status == 503 && login.text.contains("1011"), "\(login.status) \(login.text)")

        // The database arrives: the master creates the schema and wins the lease, the others follow.
        try c.start(ClusterNodeNames.database)
        try await c.login(timeout: 20)
        try await c.register()
        try await c.waitForHealth(timeout: 20) { $0["wacore1"]?.status == "connected" }
        #expect(nodeEvents(c, "master1", "lease_acquired").count == 1)
        for n in ["master1", "wacore1", "waweb"] {
            #expect(nodeEvents(c, n, "db_reachable").count == 1, "\(n)")
        }
    }

    /// A node SIGSTOPped while it streams writes holds no lock: the other shard keeps taking
    /// messages, and the primary master keeps renewing its lease, for the whole pause.
    @Test func aNodePausedMidStreamBlocksNobody() async throws {
        var layout = ClusterLayout()
        layout.masters = 2; layout.coreapps = 2; layout.timeScale = 0.1
        let webhook = WebhookReceiver()
        try await webhook.start()
        defer { Task { await webhook.close() } }
        try await withCluster("db-pause", layout: layout) { c in
            try await c.login()
            try await c.patchSettings(.object(["webhooks": .object(["url": .string(webhook.url)])]))
            try await c.register()
            try await c.setShards(2)
            try await c.waitForHealth(timeout: 20) { $0.hosts(status: "connected", role: "coreapp").count == 2 }
            let lease = RemoteClusterStore(address: HostPort(host: "127.0.0.1", port: c.databaseConfig.port!), addressBook: .direct,
                                           keyring: ClusterKeyring(c.clusterSecret),
                                           group: MultiThreadedEventLoopGroup.singleton, timeout: 5)
            // One stream per shard: a sender waiting on the frozen owner must not hold up the other shard.
            let recipients = MessageStream.recipients()
            let streams = (0..<2).map { _ in MessageStream() }
            let sending = (0..<2).map { shard in
                Task { await streams[shard].run(cluster: c, senders: 2, interval: 0.005,
                                                recipients: recipients.filter { ShardRouter.shard(for: $0, shards: 2) == shard }) }
            }
            try await Polling.pause(seconds: 1)
            let victim = try #require(owner(of: 0, in: c))
            let pausedAt = now()
            c.pause(victim)
            // 1.5 s real is 15 logical s: half the unhealthy interval, so no failover either.
            var expiries: [Double] = []
            for _ in 0..<6 {
                try await Polling.pause(seconds: 0.25)
                let status = try await lease.masterLease()
                #expect(status.remaining > 0, "the master lease lapsed while \(victim) was paused: \(status)")
                expiries.append(status.lease.expiresAt.seconds)
            }
            let resumedAt = now()
            c.resume(victim)
            for s in streams { s.stop() }
            for t in sending { await t.value }
            #expect(expiries == expiries.sorted() && expiries.last! > expiries.first!, "the lease was not renewed during the pause: \(expiries)")
            let accepted = streams.flatMap(\.accepted)
            let duringPause = accepted.filter { $0.at > pausedAt + 0.1 && $0.at < resumedAt }
            let otherShard = duringPause.filter { ShardRouter.shard(for: $0.to, shards: 2) == 1 }
            print("during the \(String(format: "%.1f", resumedAt - pausedAt))s pause: \(otherShard.count) messages accepted on shard 1, \(duringPause.count - otherShard.count) on shard 0")
            #expect(otherShard.count >= 20, "shard 1 took only \(otherShard.count) messages while \(victim) was paused")
            #expect(duringPause.count == otherShard.count, "the paused owner's shard accepted messages")
            #expect(c.allEvents().filter { $0.event == "lease_lost" }.isEmpty)
            _ = await DeliveryAudit.drain(c, timeout: 20)
            let audit = DeliveryAudit.run(cluster: c, acceptedIDs: accepted.map(\.id), webhook: webhook)
            #expect(audit.missing.isEmpty && audit.duplicated.isEmpty, "\(audit.missing.count) lost, \(audit.duplicated.count) duplicated")
        }
    }
}
