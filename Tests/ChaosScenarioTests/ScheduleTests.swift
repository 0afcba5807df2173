import Foundation
import Testing
import WACore
@testable import ChaosScenario

/// Steps with their lines zeroed, for comparing a scenario with its written-out copy.
func withoutLines(_ steps: [Step]) -> [String] { steps.map { ScenarioWriter.step($0) } }

@Test func aWrittenScenarioReadsBackTheSame() throws {
    let original = try ScenarioLoader.parse(yaml: fullScenarioYAML, file: "chaos/full.yml")
    let text = ScenarioWriter.yaml(original, comment: "written\nback")
    let again = try ScenarioLoader.parse(yaml: text, file: "schedule.yml")
    #expect(withoutLines(again.steps) == withoutLines(original.steps))
    #expect(again.topology == original.topology && again.settings == original.settings && again.shards == original.shards)
    #expect(again.seed == original.seed && again.timeScale == original.timeScale && again.register == original.register)
}

@Test func theNewStepsParseAndWriteBack() throws {
    let s = try ScenarioLoader.parse(yaml: preamble + """
      - skew: {node: wacore1, by: -5000, drift_ppm: 100}
      - gateway: {fault: drop_acks, shard: 1}
      - gateway: {fault: delay_acks, ms: 2000}
      - gateway: {fault: ban, seconds: 30}
      - gateway: {fault: heal}
      - nemesis: {faults: [kill, pause, gateway], interval: 10, duration: 60, hold: 4, targets: any, concurrent: 2, seed: 9}
    """, file: "t.yml")
    #expect(s.steps[0] == .skew(NodeTarget(.name("wacore1")), byMs: -5000, driftPPM: 100, line: 5))
    #expect(s.steps[1] == .gateway(.dropAcks(shard: 1), line: 6))
    #expect(s.steps[3] == .gateway(.ban(seconds: 30), line: 8))
    guard case .nemesis(let plan, _) = s.steps[5] else { Issue.record("not a nemesis"); return }
    #expect(plan == NemesisPlan(faults: [.kill, .pause, .gateway], interval: 10, duration: 60, hold: 4, targets: .any, concurrent: 2, seed: 9))
    let again = try ScenarioLoader.parse(yaml: ScenarioWriter.yaml(s), file: "t2.yml")
    #expect(withoutLines(again.steps) == withoutLines(s.steps))
}

@Test func badFaultStepsNameTheField() {
    #expect(errorLines(preamble + "  - skew: {node: db, by: 10}\n").first?.contains("steps[0].skew.node") == true)
    #expect(errorLines(preamble + "  - gateway: {fault: drop_acks, shard: 5}\n").first?.contains("shard 5 does not exist") == true)
    #expect(errorLines(preamble + "  - gateway: {fault: delay_acks}\n").first?.contains("ms") == true)
    #expect(errorLines(preamble + "  - gateway: {fault: ban, seconds: 5, shard: 0}\n").first?.contains("ban takes no shard") == true)
    #expect(errorLines(preamble + "  - gateway: {fault: melt}\n").first?.contains("\"delay_acks\"") == true)
    #expect(errorLines(preamble + "  - nemesis: {faults: [kill, explode], duration: 30}\n").first?.contains("faults[1]") == true)
    #expect(errorLines(preamble + "  - nemesis: {faults: [kill], interval: 10, duration: 5}\n").first?.contains("at least the interval") == true)
}

@Suite struct NemesisSchedulerTests {
    let plan = NemesisPlan(faults: NemesisPlan.Fault.allCases, interval: 10, duration: 180, targets: .coreapp)
    let topology = Topology(masters: 2, coreapps: 3)

    @Test func theSameSeedDrawsTheSameScheduleAndAnotherSeedAnother() {
        let a = NemesisScheduler.schedule(plan, topology: topology, shards: 2, seed: 7, line: 3)
        #expect(a == NemesisScheduler.schedule(plan, topology: topology, shards: 2, seed: 7, line: 3))
        #expect(a != NemesisScheduler.schedule(plan, topology: topology, shards: 2, seed: 8, line: 3))
    }

    @Test func everyFaultIsHealedBeforeTheNextAndTheEndHealsAll() {
        let steps = NemesisScheduler.schedule(plan, topology: topology, shards: 2, seed: 7, line: 3)
        // What each fault holds: its node (a cut from every master is one fault), or the gateway.
        var active: Set<String> = [], most = 0, injected = 0
        for s in steps {
            switch s {
            case .kill(let t, _), .pause(let t, _): active.insert(t.selector.description); injected += 1
            case .partition(let l, _, _, _), .delay(let l, _, _, _):
                if active.insert(l.from.description).inserted { injected += 1 }
            case .skew(let t, let by, _, _):
                if by == 0 { active.remove(t.selector.description) } else { active.insert(t.selector.description); injected += 1 }
            case .gateway(.heal, _): active.remove("gateway")
            case .gateway: active.insert("gateway"); injected += 1
            case .restart: injected += 1
            case .start(let t, _), .resume(let t, _): active.remove(t.selector.description)
            case .heal(.link(let l), _): active.remove(l.from.description)
            default: break
            }
            most = max(most, active.count)
        }
        #expect(most == 1 && active.isEmpty, "at most one fault at a time (\(most)), all healed (\(active))")
        #expect(injected == 18)
        #expect(steps.suffix(2) == [.heal(.all, line: 3), .waitHealthy(timeout: 120, line: 3)])
        let total = steps.reduce(0.0) { if case .sleep(let s, _) = $1 { $0 + s } else { $0 } }
        #expect(abs(total - 180) < 0.001, "the schedule spans the duration: \(total)")
    }

    @Test func skewsStayWithinHalfTheShortestLease() {
        let skews = NemesisPlan(faults: [.skew], interval: 10, duration: 300, targets: .any)
        for case .skew(_, let by, _, _) in NemesisScheduler.schedule(skews, topology: topology, shards: 1, seed: 3, line: 1) {
            #expect(abs(by) <= NemesisScheduler.maximumSafeSkewMilliseconds)
        }
        #expect(NemesisScheduler.maximumSafeSkewMilliseconds == 4000)
    }

    @Test func concurrentFaultsTakeDistinctNodes() {
        let p = NemesisPlan(faults: [.pause], interval: 5, duration: 60, hold: 9, targets: .coreapp, concurrent: 2)
        var paused: Set<String> = []
        for s in NemesisScheduler.schedule(p, topology: topology, shards: 2, seed: 11, line: 1) {
            if case .pause(let t, _) = s { #expect(paused.insert(t.selector.description).inserted); #expect(paused.count <= 2) }
            if case .resume(let t, _) = s { paused.remove(t.selector.description) }
        }
    }
}
