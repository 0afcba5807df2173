import Foundation
import Testing
import WACore
import WACoordination
@testable import WAStore

@Suite("SQLiteClusterStore: two processes writing at once")
struct ConcurrentWritersTests {
    @Test func interleavedSettingsSavesNeverLoseAnUpdate() async throws {
        try await withStores { s in
            let perStore = 100
            let versions = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<(2 * perStore) {
                    let store = i % 2 == 0 ? s.a : s.b
                    group.addTask {
                        var settings = ApplicationSettings()
                        settings.callbackBackoffDelayMs = i
                        return try await store.saveSettings(settings)
                    }
                }
                var out: [Int] = []
                for try await v in group { out.append(v) }
                return out
            }
            // Every save got its own version: 2...201, none lost, none repeated.
            #expect(versions.sorted() == Array(2...(2 * perStore + 1)))
            #expect(try await s.a.settings().version == 2 * perStore + 1)
        }
    }

    @Test func interleavedWritesOfDifferentKindsAllLand() async throws {
        try await withStores { s in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<200 {
                    let store = i % 2 == 0 ? s.a : s.b
                    group.addTask {
                        let id = String(format: "node%03d", i)
                        try await store.upsertNode(NodeRecord(nodeID: id, hostname: id, role: .coreapp,
                                                              rpcAddress: HostPort(host: "127.0.0.1", port: 10_000 + i),
                                                              version: "1", registeredAt: t(Double(i)), heartbeatAt: t(Double(i))))
                        try await store.reportHeartbeats(master: "m\(i % 4)", at: t(Double(i)), lastAnswered: [id: t(Double(i))])
                        try await store.saveToken(TokenRecord(tokenHash: "tok\(i)", username: "admin", expiresAt: Double(i)))
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await s.b.nodes().count == 200)
            #expect(try await s.a.peerReports(excluding: "x").map(\.masterID) == ["m0", "m1", "m2", "m3"])
            for i in [0, 57, 199] { #expect(try await s.b.token(hash: "tok\(i)")?.expiresAt == Double(i)) }
        }
    }

    @Test func racingLeaseAcquiresElectExactlyOneHolder() async throws {
        try await withStores { s in
            let rows = try await withThrowingTaskGroup(of: LeaseRecord.self) { group in
                for i in 0..<60 {
                    let store = i % 2 == 0 ? s.a : s.b
                    group.addTask { try await store.acquireMasterLease(node: "m\(i % 3)", now: t(0), ttl: 10) }
                }
                var out: [LeaseRecord] = []
                for try await r in group { out.append(r) }
                return out
            }
            let final = try await s.a.masterLease()
            #expect(final.term == 1)
            #expect(Set(rows.compactMap(\.holder)) == [final.holder!])
            #expect(rows.allSatisfy { $0.term == 1 })
        }
    }
}
