import Testing
import WACore
@testable import ChaosScenario

/// What `--net netns` added to the format: `topology.net`, a partition's `mode`, and the
/// packet faults `loss`, `duplicate` and `corrupt`; each read, written back and refused as the
/// other steps are.
@Suite struct NetStepTests {
    let topology = Topology(masters: 2, coreapps: 3)
    let link = LinkSelector(from: .name("master1"), to: .owner(shard: 0))

    func step(_ text: String) -> Result<Step, ScenarioErrors> { ScenarioLoader.step(text, topology: topology, shards: 2) }

    func refusal(_ text: String) -> String {
        if case .failure(let e) = step(text) { return e.description }
        return "accepted"
    }

    @Test func aPartitionDropsUnlessItRejects() throws {
        #expect(try step("partition: {from: master1, to: owner(shard: 0)}").get() == .partition(link, direction: .both, mode: .drop, line: 1))
        #expect(try step("partition: {from: master1, to: owner(shard: 0), mode: reject, direction: one_way}").get()
                == .partition(link, direction: .oneWay, mode: .reject, line: 1))
        #expect(refusal("partition: {from: master1, to: db, mode: refuse}").contains("expected \"drop\" or \"reject\", got \"refuse\""))
    }

    @Test func packetFaultsTakeAPercentOfOneToAHundred() throws {
        #expect(try step("loss: {from: master1, to: owner(shard: 0), percent: 30}").get() == .packets(link, fault: .loss, percent: 30, line: 1))
        #expect(try step("duplicate: {from: master1, to: owner(shard: 0), percent: 5}").get().kind == .duplicate)
        #expect(try step("corrupt: {from: master1, to: owner(shard: 0), percent: 1}").get().kind == .corrupt)
        #expect(refusal("loss: {from: master1, to: db, percent: 0}").contains("percent"))
        #expect(refusal("loss: {from: master1, to: db, percent: 101}").contains("percent"))
        #expect(refusal("loss: {from: master1, to: db}").contains("percent"))
        #expect(refusal("loss: {from: master1, to: master1, percent: 5}").contains("from and to are the same node"))
        #expect(StepKind.loss.isFault && StepKind.duplicate.isFault && StepKind.corrupt.isFault)
    }

    @Test func theNetIsPartOfTheTopologyAndWrittenBack() throws {
        let yaml = """
            name: n
            topology: {masters: 2, coreapps: 2, net: netns}
            steps:
              - wait_healthy: {timeout: 60}
              - partition: {from: master1, to: owner(shard: 0), mode: reject}
              - loss: {from: master2, to: db, percent: 20}
              - heal: all
            """
        let s = try ScenarioLoader.parse(yaml: yaml, file: "n.yml")
        #expect(s.topology.net == .netns)
        let written = ScenarioWriter.yaml(s, comment: "round trip")
        #expect(written.contains("net: netns"))
        #expect(written.contains(#"partition: {from: "master1", to: "owner(shard: 0)", mode: reject}"#))
        #expect(written.contains(#"loss: {from: "master2", to: "db", percent: 20}"#))
        let again = try ScenarioLoader.parse(yaml: written, file: "again.yml")
        #expect(again.topology == s.topology)
        #expect(again.steps.map(\.kind) == s.steps.map(\.kind))
        #expect(throws: ScenarioErrors.self) {
            try ScenarioLoader.parse(yaml: yaml.replacingOccurrences(of: "net: netns", with: "net: kernel"), file: "bad.yml")
        }
    }

    @Test func aScenarioKnowsWhetherItDelaysLinks() throws {
        let plain = try ScenarioLoader.parse(yaml: "name: p\ntopology: {masters: 1, coreapps: 1}\nsteps:\n  - wait_healthy: {timeout: 5}\n", file: "p.yml")
        #expect(!plain.delaysLinks)
        let delayed = try ScenarioLoader.parse(yaml: "name: d\ntopology: {masters: 1, coreapps: 1}\nsteps:\n  - wait_healthy: {timeout: 5}\n  - delay: {from: master1, to: db, ms: 100}\n", file: "d.yml")
        #expect(delayed.delaysLinks)
    }
}
