import Testing
import WACore
import WACoordination
import WAStore

@Suite("Storage contract: shard map, fencing and shard leases")
struct ShardMapConformanceTests {
    @Test(arguments: Backend.all)
    func registeringCreatesTheShardsUnowned(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let g = try await becomePrimary(s, s.a, "m1", at: t(0))
            try await register(s.a, shards: 2, guard: g)
            let map = try await s.b.shardMap()
            #expect(map.shardCount == 2)
            #expect(map.rows.map(\.shard) == [0, 1])
            #expect(map.rows.allSatisfy { $0.owner == nil && $0.leaseUntil == nil && $0.fenceUntil == t(0) })
            #expect(Set(map.rows.map(\.epoch)).count == 2)
            // Saving the account again does not reset an existing map.
            _ = try await s.a.assignShard(0, to: "c1", guard: g)
            try await register(s.a, shards: 2, guard: g)
            #expect(try await s.b.shardMap().owner(of: 0) == "c1")
        }
    }

    @Test(arguments: Backend.all)
    func assignAcquireRenewAndReassignWithFencing(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let g = try await becomePrimary(s, s.a, "m1", at: t(0), ttl: 100)
            try await register(s.a, shards: 1, guard: g)
            s.at(t(10))
            let first = try #require(try await s.a.assignShard(0, to: "c1", guard: g))
            #expect(first.owner == "c1" && first.fenceUntil == t(10) && first.leaseUntil == nil)

            // The owner (another node) takes and renews its lease.
            #expect(try await s.b.acquireShardLease(shard: 0, epoch: first.epoch, node: "c1", ttl: 8) == .granted(validFor: 8))
            s.at(t(12))
            #expect(try await s.b.renewShardLease(shard: 0, epoch: first.epoch, node: "c1", ttl: 8))
            #expect(try await s.a.shardMap().rows.first?.leaseUntil == t(20))
            #expect(try await s.b.shardMap().shard(ownedBy: "c1")?.epoch == first.epoch)

            // The master replaces it: the successor is fenced until the old lease ends.
            s.at(t(13))
            let second = try #require(try await s.a.assignShard(0, to: "c2", guard: g))
            #expect(second.epoch > first.epoch)
            #expect(second.fenceUntil == t(20))
            #expect(second.leaseUntil == nil)

            // The old owner can neither renew nor re-acquire.
            s.at(t(14))
            #expect(try await s.b.renewShardLease(shard: 0, epoch: first.epoch, node: "c1", ttl: 8) == false)
            // The successor waits for the fence (told how long), and needs its own epoch.
            s.at(t(19))
            #expect(try await s.b.acquireShardLease(shard: 0, epoch: second.epoch, node: "c2", ttl: 8) == .fenced(remaining: 1))
            s.at(t(20))
            #expect(try await s.b.acquireShardLease(shard: 0, epoch: first.epoch, node: "c1", ttl: 8) == .refused)
            #expect(try await s.b.acquireShardLease(shard: 0, epoch: first.epoch, node: "c2", ttl: 8) == .refused)
            #expect(try await s.b.acquireShardLease(shard: 0, epoch: second.epoch, node: "c3", ttl: 8) == .refused)
            #expect(try await s.b.acquireShardLease(shard: 0, epoch: second.epoch, node: "c2", ttl: 8) == .granted(validFor: 8))
            #expect(try await s.a.shardMap().shard(ownedBy: "c1") == nil)
            let map = try await s.a.shardMap()
            #expect(map.shard(ownedBy: "c2")?.leaseUntil == t(28) && map.asOf == t(20))
        }
    }

    @Test(arguments: Backend.all)
    func anExpiredShardLeaseCannotBeRenewedButCanBeReacquired(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let g = try await becomePrimary(s, s.a, "m1", at: t(0), ttl: 100)
            try await register(s.a, shards: 1, guard: g)
            s.at(t(1))
            let row = try #require(try await s.a.assignShard(0, to: "c1", guard: g))
            #expect(try await s.b.acquireShardLease(shard: 0, epoch: row.epoch, node: "c1", ttl: 8) == .granted(validFor: 8))
            s.at(t(9))
            #expect(try await s.b.renewShardLease(shard: 0, epoch: row.epoch, node: "c1", ttl: 8) == false)
            #expect(try await s.b.acquireShardLease(shard: 0, epoch: row.epoch, node: "c1", ttl: 8) == .granted(validFor: 8))
            #expect(try await s.a.shardMap().rows[0].leaseUntil == t(17))
        }
    }

    @Test(arguments: Backend.all)
    func reassigningAnUnleasedShardFencesOnlyUntilNow(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let g = try await becomePrimary(s, s.a, "m1", at: t(0), ttl: 100)
            try await register(s.a, shards: 1, guard: g)
            s.at(t(5))
            _ = try await s.a.assignShard(0, to: "c1", guard: g)
            s.at(t(30))
            #expect(try await s.a.assignShard(0, to: "c2", guard: g)?.fenceUntil == t(30))
        }
    }

    @Test(arguments: Backend.all)
    func aNodeOwnsAtMostOneShard(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let g = try await becomePrimary(s, s.a, "m1", at: t(0), ttl: 100)
            try await register(s.a, shards: 2, guard: g)
            #expect(try await s.a.assignShard(0, to: "c1", guard: g) != nil)
            #expect(try await s.a.assignShard(1, to: "c1", guard: g) == nil)
            #expect(try await s.a.assignShard(1, to: "c2", guard: g) != nil)
            // Re-assigning a node its own shard is allowed (new epoch).
            let before = try await s.b.shardMap().rows[0].epoch
            #expect(try await s.a.assignShard(0, to: "c1", guard: g).map(\.epoch) ?? 0 > before)
            // A shard that does not exist.
            #expect(try await s.a.assignShard(7, to: "c3", guard: g) == nil)
            let map = try await s.b.shardMap()
            #expect(map.rows.map(\.owner) == ["c1", "c2"])
        }
    }

    @Test(arguments: Backend.all)
    func releasingAShardLetsItMoveAtOnce(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let g = try await becomePrimary(s, s.a, "m1", at: t(0), ttl: 100)
            try await register(s.a, shards: 1, guard: g)
            let row = try #require(try await s.a.assignShard(0, to: "c1", guard: g))
            s.at(t(1))
            _ = try await s.b.acquireShardLease(shard: 0, epoch: row.epoch, node: "c1", ttl: 8)
            s.at(t(3))
            try await s.b.releaseShard(shard: 0, epoch: row.epoch + 1, node: "c1")   // wrong epoch: no effect
            #expect(try await s.a.shardMap().owner(of: 0) == "c1")
            try await s.b.releaseShard(shard: 0, epoch: row.epoch, node: "c1")
            let released = try await s.a.shardMap().rows[0]
            #expect(released.owner == nil && released.leaseUntil == nil && released.fenceUntil == t(3))
            s.at(t(4))
            #expect(try await s.a.assignShard(0, to: "c2", guard: g)?.fenceUntil == t(4))
        }
    }

    @Test(arguments: Backend.all)
    func changingTheShardCountFencesEveryNewShardUntilEveryOldLeaseEnds(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let g = try await becomePrimary(s, s.a, "m1", at: t(0), ttl: 100)
            try await register(s.a, shards: 2, guard: g)
            let r0 = try #require(try await s.a.assignShard(0, to: "c1", guard: g))
            let r1 = try #require(try await s.a.assignShard(1, to: "c2", guard: g))
            s.at(t(1))
            #expect(try await s.b.acquireShardLease(shard: 0, epoch: r0.epoch, node: "c1", ttl: 8) == .granted(validFor: 8))
            s.at(t(4))
            #expect(try await s.b.acquireShardLease(shard: 1, epoch: r1.epoch, node: "c2", ttl: 8) == .granted(validFor: 8))

            s.at(t(5))
            #expect(try await s.a.setShardCount(4, guard: g))
            let map = try await s.b.shardMap()
            #expect(map.shardCount == 4)
            #expect(try await s.b.account()?.shards == 4)
            #expect(map.rows.map(\.shard) == [0, 1, 2, 3])
            #expect(map.rows.allSatisfy { $0.owner == nil && $0.leaseUntil == nil })
            #expect(map.rows.allSatisfy { $0.fenceUntil == t(12) }, "\(map.rows.map(\.fenceUntil))")
            #expect(Set(map.rows.map(\.epoch)).count == 4)
            #expect(map.rows.allSatisfy { $0.epoch > r1.epoch })
            // The old owners lost their leases...
            s.at(t(6))
            #expect(try await s.b.renewShardLease(shard: 0, epoch: r0.epoch, node: "c1", ttl: 8) == false)
            // ...and the new ones wait for the latest old lease end.
            let n2 = try #require(try await s.a.assignShard(2, to: "c1", guard: g))
            #expect(n2.fenceUntil == t(12))
            s.at(t(11))
            #expect(try await s.b.acquireShardLease(shard: 2, epoch: n2.epoch, node: "c1", ttl: 8) == .fenced(remaining: 1))
            s.at(t(12))
            #expect(try await s.b.acquireShardLease(shard: 2, epoch: n2.epoch, node: "c1", ttl: 8) == .granted(validFor: 8))

            // Shrinking again: the fence also covers fences not yet passed.
            s.at(t(13))
            #expect(try await s.a.setShardCount(1, guard: g))
            let one = try await s.b.shardMap()
            #expect(one.shardCount == 1 && one.rows.count == 1 && one.rows[0].fenceUntil == t(20))
        }
    }
}
