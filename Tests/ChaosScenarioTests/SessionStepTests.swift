import Testing
import WACore
@testable import ChaosScenario

/// One step at a time, as a session of `wachaos up` takes them, and the steps only a session
/// writes (`workload`, `settings`).
@Suite struct SessionStepTests {
    let topology = Topology(masters: 2, coreapps: 3)

    func step(_ text: String, shards: Int = 2) -> Result<Step, ScenarioErrors> {
        ScenarioLoader.step(text, topology: topology, shards: shards)
    }

    @Test func aStepReadsInYAMLOrJSON() throws {
        #expect(try step("kill: wacore1").get() == .kill(NodeTarget(.name("wacore1")), line: 1))
        #expect(try step(#"{"heal": "all"}"#).get() == .heal(.all, line: 1))
        let partition = try step(#"partition: {from: master1, to: "owner(shard: 1)", direction: one_way}"#).get()
        #expect(partition == .partition(LinkSelector(from: .name("master1"), to: .owner(shard: 1)), direction: .oneWay, line: 1))
    }

    /// The refusal of a step, or "accepted".
    func refusal(_ text: String) -> String {
        if case .failure(let e) = step(text) { return e.description }
        return "accepted"
    }

    @Test func aBadStepNamesTheRequestAndTheField() {
        #expect(refusal("kill: wacore9").contains("control request:1: kill: unknown node \"wacore9\""))
        #expect(refusal("set_shards: 3").contains("set_shards"))
        #expect(refusal("kil: wacore1").contains("did you mean \"kill\""))
        #expect(refusal("handover: {shard: 3}").contains("shard 3 does not exist"))
        #expect(refusal("").contains("expected a step"))
        #expect(refusal("{kill: wacore1, stop: wacore2}").contains("exactly one key"))
        #expect(refusal("kill: [wacore1").contains("control request"))
    }

    @Test func aMeasurementBeforeAnyFaultIsRefused() {
        guard case .failure(let e) = ScenarioLoader.step("expect_failover: {shard: 0, bound: heartbeat}", topology: topology, shards: 2, sawFault: false) else {
            Issue.record("expect_failover accepted before any fault: its recording would not load"); return
        }
        #expect(e.description.contains("expect_failover"), "\(e)")
        #expect((try? ScenarioLoader.step("expect_failover: {shard: 0, bound: heartbeat}", topology: topology, shards: 2, sawFault: true).get()) != nil)
    }

    @Test func workloadAndSettingsStepsReadAndWriteBack() throws {
        let yaml = preamble + """
          - workload: {messages_per_second: 30, senders: 3}
          - settings: {heartbeat_interval: 4, callback_persist: false}
          - workload: stop
        """
        let s = try ScenarioLoader.parse(yaml: yaml, file: "t.yml")
        #expect(s.steps[0] == .workload(Workload(messagesPerSecond: 30, senders: 3), line: 5))
        guard case .settings(let settings, _) = s.steps[1] else { Issue.record("not a settings step: \(s.steps[1])"); return }
        #expect(settings.heartbeatInterval == 4)
        #expect(settings.passthrough["callback_persist"] == .bool(false))
        #expect(s.steps[2] == .workload(nil, line: 7))
        let again = try ScenarioLoader.parse(yaml: ScenarioWriter.yaml(s), file: "again.yml")
        #expect(again.steps.map(ScenarioWriter.step) == s.steps.map(ScenarioWriter.step))
    }

    @Test func badWorkloadAndSettingsStepsAreRefused() {
        #expect(errorLines(preamble + "  - workload: go\n").first?.contains("expected \"stop\" or {messages_per_second") == true)
        #expect(errorLines(preamble + "  - workload: {messages_per_second: 0}\n").first?.contains("(0, 5000]") == true)
        #expect(!errorLines(preamble + "  - settings: {heartbeat_interval: -1}\n").isEmpty)
    }

    @Test func laterSettingsWinOverEarlierOnes() {
        let a = SettingsOverrides(heartbeatInterval: 5, unhealthyInterval: 30, passthrough: ["x": .int(1), "y": .int(2)])
        let b = SettingsOverrides(heartbeatInterval: 4, passthrough: ["y": .int(3)])
        let m = a.merging(b)
        #expect(m.heartbeatInterval == 4 && m.unhealthyInterval == 30)
        #expect(m.passthrough == ["x": .int(1), "y": .int(3)])
    }
}
