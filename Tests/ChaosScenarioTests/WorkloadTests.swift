import ChaosScenario
import Testing

@Suite struct WorkloadTests {
    let base = "name: w\ntopology: {masters: 2, coreapps: 2}\n"

    @Test func workloadIsParsed() throws {
        let s = try ScenarioLoader.parse(yaml: base + "workload: {messages_per_second: 40, senders: 3}\nsteps:\n  - sleep: 1\n", file: "chaos/w.yml")
        #expect(s.workload == Workload(messagesPerSecond: 40, senders: 3))
        let plain = try ScenarioLoader.parse(yaml: base + "steps:\n  - sleep: 1\n", file: "chaos/w.yml")
        #expect(plain.workload == nil)
    }

    @Test func badWorkloadsNameLineAndField() {
        func errors(_ yaml: String) -> [String] {
            if case .failure(let e) = ScenarioLoader.check(yaml: yaml, file: "chaos/w.yml") { return e.errors.map(\.description) }
            return []
        }
        #expect(errors(base + "workload: {messages_per_second: 0}\nsteps:\n  - sleep: 1\n")
            == ["chaos/w.yml:3: workload.messages_per_second: expected a rate in (0, 5000] messages per real second, got 0.0"])
        #expect(errors(base + "workload: {messages_per_second: 5, rate: 2}\nsteps:\n  - sleep: 1\n").first?.contains("workload.rate: unknown key") == true)
        #expect(errors(base + "register: false\nworkload: {messages_per_second: 5}\nsteps:\n  - sleep: 1\n").first?.contains("needs a registered account") == true)
    }
}
