import Testing
import WACore
import WACoordination
import WAStore

@Suite("Storage contract: the master lease, on the database's clock")
struct LeaseConformanceTests {
    @Test(arguments: Backend.all)
    func firstAcquireWinsAndTheOtherSeesTheHolder(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let won = try await s.a.acquireMasterLease(node: "m1", ttl: 10)
            #expect(won == LeaseStatus(lease: LeaseRecord(holder: "m1", term: 1, expiresAt: t(10)), remaining: 10))
            s.at(t(1))
            let lost = try await s.b.acquireMasterLease(node: "m2", ttl: 10)
            #expect(lost.lease == won.lease && lost.remaining == 9 && lost.holder == "m1")
            #expect(try await s.b.masterLease() == lost)
            // The holder asking again keeps its term and extends.
            s.at(t(2))
            #expect(try await s.a.acquireMasterLease(node: "m1", ttl: 10).lease == LeaseRecord(holder: "m1", term: 1, expiresAt: t(12)))
        }
    }

    @Test(arguments: Backend.all)
    func renewOnlyByTheHolderInItsTermBeforeExpiry(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            _ = try await s.a.acquireMasterLease(node: "m1", ttl: 10)
            s.at(t(5))
            #expect(try await s.a.renewMasterLease(node: "m1", term: 1, ttl: 10))
            #expect(try await s.b.masterLease().lease.expiresAt == t(15))
            s.at(t(6))
            #expect(try await s.b.renewMasterLease(node: "m2", term: 1, ttl: 10) == false)
            #expect(try await s.a.renewMasterLease(node: "m1", term: 2, ttl: 10) == false)
            s.at(t(15))
            #expect(try await s.a.renewMasterLease(node: "m1", term: 1, ttl: 10) == false)
            let after = try await s.b.masterLease()
            #expect(after.lease.expiresAt == t(15) && after.remaining == 0 && after.holder == nil)
        }
    }

    @Test(arguments: Backend.all)
    func afterExpiryTheOtherTakesOverWithTheNextTerm(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            _ = try await s.a.acquireMasterLease(node: "m1", ttl: 10)
            s.at(t(9.9))
            #expect(try await s.b.acquireMasterLease(node: "m2", ttl: 10).holder == "m1")
            s.at(t(10))
            #expect(try await s.b.acquireMasterLease(node: "m2", ttl: 10).lease == LeaseRecord(holder: "m2", term: 2, expiresAt: t(20)))
            s.at(t(10.5))
            #expect(try await s.a.renewMasterLease(node: "m1", term: 1, ttl: 10) == false)
            s.at(t(11))
            #expect(try await s.a.acquireMasterLease(node: "m1", ttl: 10).holder == "m2")
        }
    }

    @Test(arguments: Backend.all)
    func releaseFreesTheLeaseAtOnceButOnlyForItsHolderAndTerm(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            _ = try await s.a.acquireMasterLease(node: "m1", ttl: 10)
            try await s.b.releaseMasterLease(node: "m2", term: 1)        // not the holder
            try await s.a.releaseMasterLease(node: "m1", term: 7)        // wrong term
            s.at(t(1))
            #expect(try await s.b.acquireMasterLease(node: "m2", ttl: 10).holder == "m1")
            try await s.a.releaseMasterLease(node: "m1", term: 1)
            #expect(try await s.b.acquireMasterLease(node: "m2", ttl: 10).lease == LeaseRecord(holder: "m2", term: 2, expiresAt: t(11)))
        }
    }

    @Test(arguments: Backend.all)
    func guardedWritesAreRefusedForAStaleTerm(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let g1 = try await becomePrimary(s, s.a, "m1", at: t(0))
            let account = AccountRecord(cc: "1", phoneNumber: "6505550100", vname: "Acme", state: .pendingCode, shards: 1)
            #expect(try await s.a.saveAccount(account, guard: g1))
            // m1 stalls; m2 takes over after expiry. m1's own clock may still say "valid": the
            // database judges by its clock, so m1's late writes are refused.
            let g2 = try await becomePrimary(s, s.b, "m2", at: t(10))
            #expect(g2.term == 2)
            var registered = account
            registered.state = .registered
            #expect(try await s.a.saveAccount(registered, guard: g1) == false)
            #expect(try await s.a.assignShard(0, to: "c1", guard: g1) == nil)
            #expect(try await s.a.setShardCount(2, guard: g1) == false)
            #expect(try await s.b.account() == account)
            // The new primary's writes go through; the same guard past its expiry does not.
            #expect(try await s.b.saveAccount(registered, guard: g2))
            #expect(try await s.a.account()?.isRegistered == true)
            s.at(t(20))
            #expect(try await s.b.saveAccount(account, guard: g2) == false)
        }
    }

    @Test(arguments: Backend.all)
    func racingAcquiresElectExactlyOneHolder(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let answers = try await withThrowingTaskGroup(of: LeaseStatus.self) { group in
                for i in 0..<60 {
                    let store = i % 2 == 0 ? s.a : s.b
                    group.addTask { try await store.acquireMasterLease(node: "m\(i % 3)", ttl: 10) }
                }
                var out: [LeaseStatus] = []
                for try await r in group { out.append(r) }
                return out
            }
            let final = try await s.a.masterLease()
            #expect(final.lease.term == 1)
            #expect(Set(answers.compactMap(\.holder)) == [final.holder!])
            #expect(answers.allSatisfy { $0.lease.term == 1 })
        }
    }

    @Test(arguments: Backend.all)
    func leasesChangeHandsManyTimesWithoutEverHavingTwoHolders(_ backend: Backend) async throws {
        // Three masters race every logical second for 40 s; holders renew, and one stops
        // renewing every 15 s. At every instant at most one node holds a running lease.
        try await withStores(backend) { (s: StoreFixture) async throws in
            var terms: [Int: String] = [:]
            var silent: String?
            for second in 0..<40 {
                s.at(t(Double(second)))
                if second % 15 == 14 { silent = (try await s.a.masterLease()).holder }
                let answers = try await withThrowingTaskGroup(of: LeaseStatus?.self) { group in
                    for node in ["m1", "m2", "m3"] where node != silent {
                        let store = node == "m2" ? s.b : s.a
                        group.addTask { try await store.acquireMasterLease(node: node, ttl: 4) }
                    }
                    var out: [LeaseStatus] = []
                    for try await r in group { if let r { out.append(r) } }
                    return out
                }
                let holders = Set(answers.compactMap(\.holder))
                #expect(holders.count == 1, "at \(second): \(holders)")
                for a in answers where a.holder != nil {
                    if let known = terms[a.lease.term] { #expect(known == a.lease.holder, "term \(a.lease.term) had two holders") }
                    terms[a.lease.term] = a.lease.holder
                }
            }
            #expect(terms.count >= 2, "the lease never changed hands: \(terms)")
        }
    }
}
