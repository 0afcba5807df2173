import Testing
import WACore
@testable import WACoordination

@Suite("ShardPlanner")
struct ShardPlannerTests {
    static let sick = UnhealthyReason.heartbeat(primarySilentFor: 31, peer: "m2", peerSilentFor: 32, unhealthyInterval: 30)

    func coreapp(_ host: String, id: String? = nil, unhealthy: UnhealthyReason? = nil, promotable: Bool = true) -> CoreappCandidate {
        CoreappCandidate(nodeID: id ?? "id-\(host)", hostname: host, unhealthy: unhealthy, promotable: promotable)
    }

    func row(_ shard: Int, _ owner: String?, epoch: Int = 1) -> ShardAssignment {
        ShardAssignment(shard: shard, owner: owner, epoch: epoch, fenceUntil: t(0), leaseUntil: owner == nil ? nil : t(10))
    }

    func promoted(_ decisions: [ShardPlanner.Decision]) -> [Int: String] {
        var out: [Int: String] = [:]
        for d in decisions { if case let .promote(shard, node, _, _) = d { out[shard] = node } }
        return out
    }

    @Test func theLowestHostnameWins() {
        let d = ShardPlanner.plan(shardCount: 1, map: [row(0, nil)],
                                  coreapps: [coreapp("wacore3"), coreapp("wacore1"), coreapp("wacore2")])
        #expect(d == [.promote(shard: 0, node: "id-wacore1", replacing: nil, reason: "shard has no owner")])
    }

    @Test func theChoiceDoesNotDependOnInputOrder() {
        var rng = SplitMix64(seed: 9)
        let apps = (1...6).map { coreapp("wacore\($0)") }
        let expected = ShardPlanner.plan(shardCount: 4, map: (0..<4).map { row($0, nil) }, coreapps: apps)
        for _ in 0..<20 {
            let shuffled = apps.shuffled(using: &rng)
            #expect(ShardPlanner.plan(shardCount: 4, map: (0..<4).map { row($0, nil) }.shuffled(using: &rng), coreapps: shuffled) == expected)
        }
    }

    @Test func equalHostnamesFallBackToNodeID() {
        let d = ShardPlanner.plan(shardCount: 1, map: [row(0, nil)],
                                  coreapps: [coreapp("wacore", id: "bbb"), coreapp("wacore", id: "aaa")])
        #expect(promoted(d) == [0: "aaa"])
    }

    @Test func hostnamesCompareInNaturalOrder() {
        // wacore2 before wacore10, as people (and the scenario selectors) count.
        let d = ShardPlanner.plan(shardCount: 1, map: [row(0, nil)], coreapps: [coreapp("wacore10"), coreapp("wacore2")])
        #expect(promoted(d) == [0: "id-wacore2"])
    }

    @Test func aStartingCoreappThatWouldWinIsWaitedFor() {
        var early = coreapp("wacore1"); early.promotable = false; early.pending = true
        let d = ShardPlanner.plan(shardCount: 1, map: [row(0, nil)], coreapps: [early, coreapp("wacore2")])
        #expect(d == [.deferred(shard: 0, waitingFor: "wacore1")])
        // A starting coreapp that would not win does not hold anything up.
        var late = coreapp("wacore3"); late.promotable = false; late.pending = true
        #expect(promoted(ShardPlanner.plan(shardCount: 1, map: [row(0, nil)], coreapps: [late, coreapp("wacore2")])) == [0: "id-wacore2"])
    }

    @Test func healthyOwnersKeepTheirShards() {
        let d = ShardPlanner.plan(shardCount: 2, map: [row(0, "id-wacore2"), row(1, "id-wacore3")],
                                  coreapps: [coreapp("wacore1"), coreapp("wacore2"), coreapp("wacore3")])
        #expect(d.isEmpty)
    }

    @Test func aHealthyOwnerThatIsNotPromotableKeepsItsShard() {
        let d = ShardPlanner.plan(shardCount: 1, map: [row(0, "id-wacore2")],
                                  coreapps: [coreapp("wacore1"), coreapp("wacore2", promotable: false)])
        #expect(d.isEmpty)
    }

    @Test func oneCoreappOwnsAtMostOneShard() {
        // wacore1 owns shard 1 already: shard 0 goes to the next standby.
        let d = ShardPlanner.plan(shardCount: 2, map: [row(0, nil), row(1, "id-wacore1")],
                                  coreapps: [coreapp("wacore1"), coreapp("wacore2"), coreapp("wacore3")])
        #expect(d == [.promote(shard: 0, node: "id-wacore2", replacing: nil, reason: "shard has no owner")])
    }

    @Test func anUnhealthyOwnerIsReplaced() {
        let d = ShardPlanner.plan(shardCount: 1, map: [row(0, "id-wacore1")],
                                  coreapps: [coreapp("wacore1", unhealthy: Self.sick), coreapp("wacore2")])
        guard case let .promote(shard, node, replacing, reason)? = d.first, d.count == 1 else {
            Issue.record("got \(d)"); return
        }
        #expect(shard == 0 && node == "id-wacore2" && replacing == "id-wacore1")
        #expect(reason.hasPrefix("owner wacore1 is unhealthy: no heartbeat answer"))
    }

    @Test func unhealthyOrUnpromotableStandbysAreNotChosen() {
        let d = ShardPlanner.plan(shardCount: 1, map: [row(0, "id-wacore1")],
                                  coreapps: [coreapp("wacore1", unhealthy: Self.sick),
                                             coreapp("wacore2", unhealthy: .database(heartbeatAge: 130, limit: 120)),
                                             coreapp("wacore3", promotable: false),
                                             coreapp("wacore4")])
        #expect(promoted(d) == [0: "id-wacore4"])
    }

    @Test func noCandidateWhenNobodyCanTakeIt() {
        let d = ShardPlanner.plan(shardCount: 1, map: [row(0, "id-wacore1")],
                                  coreapps: [coreapp("wacore1", unhealthy: Self.sick), coreapp("wacore2", promotable: false)])
        guard case let .noCandidate(shard, reason)? = d.first, d.count == 1 else { Issue.record("got \(d)"); return }
        #expect(shard == 0)
        #expect(reason.hasSuffix("; no healthy standby coreapp to promote"))
        #expect(reason.hasPrefix("owner wacore1 is unhealthy"))
        #expect(ShardPlanner.plan(shardCount: 1, map: [row(0, nil)], coreapps: []) ==
                [.noCandidate(shard: 0, reason: "shard has no owner; no healthy standby coreapp to promote")])
    }

    @Test func anOwnerNoLongerRegisteredIsReplaced() {
        let d = ShardPlanner.plan(shardCount: 1, map: [row(0, "gone")], coreapps: [coreapp("wacore2")])
        #expect(d == [.promote(shard: 0, node: "id-wacore2", replacing: "gone", reason: "owner gone is no longer registered")])
    }

    @Test func aShardWithoutARowIsTreatedAsUnowned() {
        let d = ShardPlanner.plan(shardCount: 2, map: [row(0, "id-wacore1")], coreapps: [coreapp("wacore1"), coreapp("wacore2")])
        #expect(d == [.promote(shard: 1, node: "id-wacore2", replacing: nil, reason: "shard has no owner")])
    }

    @Test(arguments: [2, 4])
    func everyShardGetsItsOwnCoreappWhenThereAreEnough(shards: Int) {
        let apps = (1...(shards + 1)).reversed().map { coreapp("wacore\($0)") }
        let d = ShardPlanner.plan(shardCount: shards, map: (0..<shards).map { row($0, nil) }, coreapps: apps)
        let p = promoted(d)
        #expect(d.count == shards)
        #expect(p.count == shards)
        #expect(Set(p.values).count == shards)
        // In shard order, lowest hostnames first; the highest one stays standby.
        #expect(p == Dictionary(uniqueKeysWithValues: (0..<shards).map { ($0, "id-wacore\($0 + 1)") }))
    }

    @Test(arguments: [2, 4])
    func tooFewCoreappsLeaveTheLastShardsWithoutOwner(shards: Int) {
        let apps = (1..<shards).map { coreapp("wacore\($0)") }
        let d = ShardPlanner.plan(shardCount: shards, map: (0..<shards).map { row($0, nil) }, coreapps: apps)
        #expect(promoted(d).count == shards - 1)
        #expect(Set(promoted(d).values).count == shards - 1)
        guard case .noCandidate(let shard, _)? = d.last else { Issue.record("got \(d)"); return }
        #expect(shard == shards - 1)
    }

    @Test func fourShardsWithTwoFailuresAndTwoSpares() {
        // 4 shards + 2 spares; the owners of shards 1 and 3 fail: the spares take them.
        let apps = [coreapp("wacore1"), coreapp("wacore2", unhealthy: Self.sick), coreapp("wacore3"),
                    coreapp("wacore4", unhealthy: Self.sick), coreapp("wacore5"), coreapp("wacore6")]
        let map = [row(0, "id-wacore1"), row(1, "id-wacore2"), row(2, "id-wacore3"), row(3, "id-wacore4")]
        let d = ShardPlanner.plan(shardCount: 4, map: map, coreapps: apps)
        #expect(promoted(d) == [1: "id-wacore5", 3: "id-wacore6"])
    }

    @Test func rowsBeyondTheShardCountDoNotMakeTheirOwnerBusy() {
        // After a shard count shrink the old row may linger; its owner is free to be chosen.
        let d = ShardPlanner.plan(shardCount: 1, map: [row(0, nil), row(3, "id-wacore1")], coreapps: [coreapp("wacore1"), coreapp("wacore2")])
        #expect(promoted(d) == [0: "id-wacore1"])
    }
}
