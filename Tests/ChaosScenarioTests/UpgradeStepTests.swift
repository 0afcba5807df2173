import Testing
import WACore
@testable import ChaosScenario

/// Builds, `upgrade`, `dbupgrade` and `handover` steps (SPEC §13): read, written back, refused
/// when wrong, and the plan an upgrade follows.
@Suite("Upgrade steps")
struct UpgradeStepTests {
    @Test func buildsAndUpgradeStepsAreReadAndWrittenBackTheSame() throws {
        let s = try ScenarioLoader.parse(yaml: """
            name: t
            topology: {masters: 2, coreapps: 3, builds: {old: .build-old/debug}, build: old, node_builds: {wacore3: new}}
            shards: 2
            steps:
              - upgrade: {to: new, strategy: rolling, max_unavailable: 1}
              - upgrade: {strategy: random, seed: 7}
              - upgrade: {to: new, strategy: all-at-once, fail_dbupgrade: true}
              - dbupgrade: new
              - handover: {shard: 1, to: wacore2}
              - handover: {shard: 0}
            """, file: "chaos/t.yml")
        #expect(s.topology.builds == ["old": ".build-old/debug"])
        #expect(s.topology.build(of: "wacore1") == "old")
        #expect(s.topology.build(of: "wacore3") == "new")
        #expect(s.steps == [
            .upgrade(UpgradePlan(to: "new", strategy: .rolling, maxUnavailable: 1), line: 5),
            .upgrade(UpgradePlan(to: "new", strategy: .random, seed: 7), line: 6),
            .upgrade(UpgradePlan(to: "new", strategy: .allAtOnce, failDBUpgrade: true), line: 7),
            .dbupgrade(build: "new", line: 8),
            .handover(shard: 1, to: .name("wacore2"), line: 9),
            .handover(shard: 0, to: nil, line: 10),
        ])
        #expect(StepKind.upgrade.isFault && StepKind.handover.isFault)
        let again = try ScenarioLoader.parse(yaml: ScenarioWriter.yaml(s, comment: "round trip"), file: "chaos/again.yml")
        #expect(again.steps.map(ScenarioWriter.step) == s.steps.map(ScenarioWriter.step))
        #expect(again.topology == s.topology)
    }

    @Test func wrongBuildsAndUpgradeStepsNameTheFieldAndWhy() {
        let topology = errorLines("""
            name: t
            topology: {masters: 2, coreapps: 3, builds: {Old: x}, build: nightly, node_builds: {wacore9: new}}
            steps:
              - sleep: 1
            """)
        #expect(topology.contains { $0.hasPrefix("chaos/t.yml:2: topology.builds: a build name is lowercase letters") }, "\(topology)")
        #expect(topology.contains { $0.contains("topology.build: no build named \"nightly\"") }, "\(topology)")
        #expect(topology.contains { $0.contains("topology.node_builds: no node named \"wacore9\"") }, "\(topology)")
        let lines = errorLines("""
            name: t
            topology: {masters: 2, coreapps: 3, builds: {old: x}}
            shards: 2
            steps:
              - upgrade: {to: beta, strategy: rolling}
              - upgrade: {strategy: sideways}
              - upgrade: {strategy: rolling, seed: 3}
              - handover: {shard: 2}
              - handover: {shard: 0, to: wacore7}
              - dbupgrade: nightly
            """)
        #expect(lines.contains { $0.hasPrefix("chaos/t.yml:5: steps[0].upgrade.to: no build named \"beta\"") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("chaos/t.yml:6: steps[1].upgrade.strategy:") && $0.contains("sideways") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("chaos/t.yml:7: steps[2].upgrade.seed: seed orders a random upgrade only") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("chaos/t.yml:8: steps[3].handover.shard: shard 2 does not exist") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("chaos/t.yml:9: steps[4].handover.to: unknown node \"wacore7\"") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("chaos/t.yml:10: steps[5].dbupgrade: no build named \"nightly\"") }, "\(lines)")
    }

    func cluster(primary: String = "master1", owners: [String: Int] = ["wacore1": 0, "wacore2": 1]) -> [NodeState] {
        [NodeState(name: "db", role: .db), NodeState(name: "gateway", role: .gateway), NodeState(name: "waweb", role: .webapp)]
            + ["master1", "master2"].map { NodeState(name: $0, role: .master, isPrimaryMaster: $0 == primary) }
            + ["wacore1", "wacore2", "wacore3", "wacore10"].map { NodeState(name: $0, role: .coreapp, ownedShard: owners[$0]) }
            + [NodeState(name: "wacore4", role: .coreapp, isRunning: false)]
    }

    @Test func rollingGoesWebappsSecondariesPrimaryStandbysThenOwnersByShard() {
        #expect(UpgradeOrder.plan(.rolling, nodes: cluster(), seed: 1)
                == ["waweb", "master2", "master1", "wacore3", "wacore10", "wacore1", "wacore2"])
        #expect(UpgradeOrder.plan(.rolling, nodes: cluster(primary: "master2", owners: ["wacore10": 0, "wacore3": 1]), seed: 1)
                == ["waweb", "master1", "master2", "wacore1", "wacore2", "wacore10", "wacore3"])
        #expect(UpgradeOrder.plan(.allAtOnce, nodes: cluster(), seed: 1) == UpgradeOrder.plan(.rolling, nodes: cluster(), seed: 1))
    }

    @Test func aRandomPlanIsTheSameForTheSameSeedAndMovesEveryNodeOnce() {
        let a = UpgradeOrder.plan(.random, nodes: cluster(), seed: 7)
        #expect(a == UpgradeOrder.plan(.random, nodes: cluster(), seed: 7))
        #expect(a.sorted() == UpgradeOrder.plan(.rolling, nodes: cluster(), seed: 7).sorted())
        let others = (1...20).map { UpgradeOrder.plan(.random, nodes: cluster(), seed: UInt64($0)) }
        #expect(Set(others.map { $0.joined(separator: ",") }).count > 10, "the seed decides the order")
    }
}
