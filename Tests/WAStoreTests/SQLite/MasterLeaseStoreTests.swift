import Testing
import WACore
import WACoordination
@testable import WAStore

@Suite("SQLiteClusterStore: master lease across two processes")
struct MasterLeaseStoreTests {
    @Test func firstAcquireWinsAndTheOtherSeesTheHolder() async throws {
        try await withStores { s in
            let won = try await s.a.acquireMasterLease(node: "m1", now: t(0), ttl: 10)
            #expect(won == LeaseRecord(holder: "m1", term: 1, expiresAt: t(10)))
            let lost = try await s.b.acquireMasterLease(node: "m2", now: t(1), ttl: 10)
            #expect(lost == won)
            #expect(try await s.b.masterLease() == won)
            // The holder asking again keeps its term and extends.
            #expect(try await s.a.acquireMasterLease(node: "m1", now: t(2), ttl: 10) == LeaseRecord(holder: "m1", term: 1, expiresAt: t(12)))
        }
    }

    @Test func renewOnlyByTheHolderInItsTermBeforeExpiry() async throws {
        try await withStores { s in
            _ = try await s.a.acquireMasterLease(node: "m1", now: t(0), ttl: 10)
            #expect(try await s.a.renewMasterLease(node: "m1", term: 1, now: t(5), ttl: 10))
            #expect(try await s.b.masterLease().expiresAt == t(15))
            #expect(try await s.b.renewMasterLease(node: "m2", term: 1, now: t(6), ttl: 10) == false)
            #expect(try await s.a.renewMasterLease(node: "m1", term: 2, now: t(6), ttl: 10) == false)
            #expect(try await s.a.renewMasterLease(node: "m1", term: 1, now: t(15), ttl: 10) == false)
            #expect(try await s.b.masterLease().expiresAt == t(15))
        }
    }

    @Test func afterExpiryTheOtherTakesOverWithTheNextTerm() async throws {
        try await withStores { s in
            _ = try await s.a.acquireMasterLease(node: "m1", now: t(0), ttl: 10)
            #expect(try await s.b.acquireMasterLease(node: "m2", now: t(9.9), ttl: 10).holder == "m1")
            #expect(try await s.b.acquireMasterLease(node: "m2", now: t(10), ttl: 10) == LeaseRecord(holder: "m2", term: 2, expiresAt: t(20)))
            #expect(try await s.a.renewMasterLease(node: "m1", term: 1, now: t(10.5), ttl: 10) == false)
            #expect(try await s.a.acquireMasterLease(node: "m1", now: t(11), ttl: 10).holder == "m2")
        }
    }

    @Test func releaseFreesTheLeaseAtOnceButOnlyForItsHolderAndTerm() async throws {
        try await withStores { s in
            _ = try await s.a.acquireMasterLease(node: "m1", now: t(0), ttl: 10)
            try await s.b.releaseMasterLease(node: "m2", term: 1)        // not the holder
            try await s.a.releaseMasterLease(node: "m1", term: 7)        // wrong term
            #expect(try await s.b.acquireMasterLease(node: "m2", now: t(1), ttl: 10).holder == "m1")
            try await s.a.releaseMasterLease(node: "m1", term: 1)
            #expect(try await s.b.acquireMasterLease(node: "m2", now: t(1), ttl: 10) == LeaseRecord(holder: "m2", term: 2, expiresAt: t(11)))
        }
    }

    @Test func guardedWritesAreRefusedForAStaleTerm() async throws {
        try await withStores { s in
            let g1 = try await becomePrimary(s.a, "m1", at: t(0))
            let account = AccountRecord(cc: "1", phoneNumber: "6505550100", vname: "Acme", state: .pendingCode, shards: 1)
            #expect(try await s.a.saveAccount(account, guard: g1))
            // m1 stalls; m2 takes over after expiry.
            let g2 = try await becomePrimary(s.b, "m2", at: t(10))
            #expect(g2.term == 2)
            var registered = account
            registered.state = .registered
            let late = MasterGuard(nodeID: "m1", term: 1, now: t(9))   // its own clock still says "valid"
            #expect(try await s.a.saveAccount(registered, guard: late) == false)
            #expect(try await s.a.assignShard(0, to: "c1", guard: late) == nil)
            #expect(try await s.a.setShardCount(2, guard: late) == false)
            #expect(try await s.b.account() == account)
            // The new primary's writes go through; the same guard past its expiry does not.
            #expect(try await s.b.saveAccount(registered, guard: g2))
            #expect(try await s.a.account()?.isRegistered == true)
            #expect(try await s.b.saveAccount(account, guard: MasterGuard(nodeID: "m2", term: 2, now: t(20))) == false)
        }
    }
}
