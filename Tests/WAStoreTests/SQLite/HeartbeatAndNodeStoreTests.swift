import Testing
import WACore
import WACoordination
@testable import WAStore

@Suite("SQLiteClusterStore: nodes and heartbeat reports")
struct HeartbeatAndNodeStoreTests {
    func node(_ id: String, _ host: String, _ role: NodeRole = .coreapp, at: Double) -> NodeRecord {
        NodeRecord(nodeID: id, hostname: host, role: role, rpcAddress: HostPort(host: "127.0.0.1", port: 6252), version: "1.0",
                   registeredAt: t(at), heartbeatAt: t(at))
    }

    @Test func reportsRoundTripBetweenProcesses() async throws {
        try await withStores { s in
            try await s.a.reportHeartbeats(master: "m1", at: t(7), lastAnswered: ["c1": t(5), "c2": t(6)])
            #expect(try await s.b.peerReports(excluding: "m2") == [PeerReport(masterID: "m1", reportedAt: t(7), lastAnswered: ["c1": t(5), "c2": t(6)])])
            #expect(try await s.a.peerReports(excluding: "m1") == [])
        }
    }

    @Test func aNewReportReplacesTheOld() async throws {
        try await withStores { s in
            try await s.a.reportHeartbeats(master: "m1", at: t(7), lastAnswered: ["c1": t(5), "c2": t(6)])
            try await s.a.reportHeartbeats(master: "m1", at: t(12), lastAnswered: ["c1": t(12)])
            #expect(try await s.b.peerReports(excluding: "m2") == [PeerReport(masterID: "m1", reportedAt: t(12), lastAnswered: ["c1": t(12)])])
        }
    }

    @Test func anEmptyReportStillSaysTheMasterIsAlive() async throws {
        try await withStores { s in
            try await s.a.reportHeartbeats(master: "m1", at: t(7), lastAnswered: ["c1": t(5)])
            try await s.a.reportHeartbeats(master: "m1", at: t(20), lastAnswered: [:])
            #expect(try await s.b.peerReports(excluding: "m2") == [PeerReport(masterID: "m1", reportedAt: t(20), lastAnswered: [:])])
        }
    }

    @Test func reportsOfSeveralMastersComeSortedWithoutTheAsker() async throws {
        try await withStores { s in
            try await s.b.reportHeartbeats(master: "m3", at: t(3), lastAnswered: ["c1": t(1)])
            try await s.a.reportHeartbeats(master: "m1", at: t(1), lastAnswered: ["c1": t(1)])
            try await s.b.reportHeartbeats(master: "m2", at: t(2), lastAnswered: [:])
            #expect(try await s.a.peerReports(excluding: "m2").map(\.masterID) == ["m1", "m3"])
            #expect(try await s.a.peerReports(excluding: "nobody").map(\.masterID) == ["m1", "m2", "m3"])
        }
    }

    @Test func nodesUpsertTouchAndRemove() async throws {
        try await withStores { s in
            try await s.a.upsertNode(node("id2", "wacore2", at: 0))
            try await s.b.upsertNode(node("id1", "wacore1", at: 1))
            try await s.b.upsertNode(node("idm", "master1", .master, at: 2))
            #expect(try await s.a.nodes().map(\.hostname) == ["master1", "wacore1", "wacore2"])
            // A re-registration keeps the first registration time but updates the rest.
            var again = node("id2", "wacore2", at: 50)
            again.version = "2.0"
            try await s.b.upsertNode(again)
            let n = try #require(try await s.a.nodes().first { $0.nodeID == "id2" })
            #expect(n.registeredAt == t(0) && n.heartbeatAt == t(50) && n.version == "2.0")
            #expect(n.healthKey == "wacore2:id2")
            try await s.a.touchNode("id2", at: t(60))
            #expect(try await s.b.nodes().first { $0.nodeID == "id2" }?.heartbeatAt == t(60))
            // Removing a node also removes it from heartbeat reports.
            try await s.a.reportHeartbeats(master: "idm", at: t(61), lastAnswered: ["id1": t(60), "id2": t(60)])
            try await s.b.removeNode("id2")
            #expect(try await s.a.nodes().map(\.nodeID).sorted() == ["id1", "idm"])
            #expect(try await s.a.peerReports(excluding: "x").first?.lastAnswered == ["id1": t(60)])
        }
    }
}
