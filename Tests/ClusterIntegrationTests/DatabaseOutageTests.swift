import Foundation
import NIOPosix
import Testing
import WAChaos
import WACore
import WAStore
import WAStoreRemote
import WATestKit
import WAWire

/// SPEC §12 with real processes and a real cut: the owner's link to the db node goes through
/// the runner's proxy, which drops it mid-stream.
@Suite(.serialized) struct DatabaseOutageTests {
    @Test func anOwnerCutFromTheDatabaseNeverAnswers201ForAMessageTheDatabaseDoesNotHold() async throws {
        var layout = ClusterLayout()
        layout.masters = 1; layout.coreapps = 1; layout.timeScale = 0.1
        let webhook = WebhookReceiver()
        try await webhook.start()
        defer { Task { await webhook.close() } }
        try await withCluster("owner-cut-from-db", layout: layout, proxied: true) { c, proxies in
            let mesh = try #require(proxies)
            try await c.login()
            try await c.patchSettings(.object(["webhooks": .object(["url": .string(webhook.url)])]))
            try await c.register()
            try await c.waitForHealth(timeout: 20) { $0.hosts(status: "connected", role: "coreapp").count == 1 }
            // Many senders, no pause between sends: group commits are in flight when the cut comes.
            let stream = MessageStream()
            let sending = Task { await stream.run(cluster: c, senders: 6, interval: 0) }
            try await Polling.pause(seconds: 1)
            let acceptedBeforeCut = stream.accepted.count
            try mesh.partition("wacore1", ClusterNodeNames.database, oneWay: false)
            // Longer than the shard lease (8 logical s = 0.8 s): the owner lets its shard go meanwhile.
            try await Polling.pause(seconds: 2)
            let acceptedDuringCut = stream.accepted.count - acceptedBeforeCut
            mesh.heal("wacore1", ClusterNodeNames.database)
            try await c.waitForHealth(timeout: 20) { $0.hosts(status: "connected", role: "coreapp").count == 1 }
            try await Polling.pause(seconds: 0.5)
            stream.stop()
            await sending.value

            let db = RemoteClusterStore(address: HostPort(host: "127.0.0.1", port: c.databaseConfig.port!), addressBook: .direct,
                                        keyring: ClusterKeyring(c.clusterSecret), group: MultiThreadedEventLoopGroup.singleton, timeout: 5)
            var missing: [String] = []
            for a in stream.accepted where try await db.message(a.id) == nil { missing.append(a.id) }
            print("owner cut from the db: \(stream.accepted.count) accepted (\(acceptedBeforeCut) before the cut, \(acceptedDuringCut) during it), refused by status \(stream.refused), transport errors \(stream.errors)")
            #expect(acceptedBeforeCut > 0, "nothing was accepted before the cut: the test proved nothing")
            #expect(!stream.refused.isEmpty, "no send was refused: the cut did not bite")
            #expect(missing.isEmpty, "answered 201 but not in the database: \(missing.prefix(5))")
            #expect(Set(stream.refused.keys).isSubset(of: [503, 504]), "refusals other than 503/504: \(stream.refused)")
            #expect(stream.errors == 0, "sends without an HTTP answer: \(stream.errors)")
        }
    }
}
