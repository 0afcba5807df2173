import ChaosCheckers
import ChaosScenario
import Foundation
import WACore
import ProcessSupervisor

/// Reduces a failing schedule to a smaller one that still fails the same check: first whole
/// faults (each with its heal) are removed, halves then singles, then holds are halved. Every
/// candidate is a real run with the same seed; the budget bounds the whole search.
public final class Shrinker {
    public struct Result: Sendable {
        public var scenario: Scenario
        public var faults: Int
        public var originalFaults: Int
        public var attempts: Int
        public var checks: [String]
        public var path: String
    }

    let runDirectory: String
    let options: RunOptions
    let budget: Double
    let checkNames: Set<String>?
    /// Runs a candidate must fail in a row to count as failing: a fault that fails by timing
    /// alone would otherwise shrink to a schedule that does not reproduce it.
    let confirmations: Int
    let supervisor: Supervisor
    var attempts = 0
    let started = Date()

    public init(runDirectory: String, options: RunOptions, budget: Double, checks: [String]? = nil, confirmations: Int = 2,
                supervisor: Supervisor) {
        self.runDirectory = runDirectory; self.options = options; self.budget = budget; self.confirmations = max(1, confirmations)
        self.checkNames = checks.map(Set.init); self.supervisor = supervisor
    }

    /// A fault step with the later step that heals it (nil: it heals itself or is never healed).
    struct Unit: Equatable { var fault: Int; var heal: Int? }

    static func units(_ steps: [Step]) -> [Unit] {
        var out: [Unit] = []
        for (i, s) in steps.enumerated() where s.isFault && !isHeal(s) {
            let healer = steps.indices.dropFirst(i + 1).first { heals(steps[$0], s) }
            out.append(Unit(fault: i, heal: healer))
        }
        return out
    }

    /// The same timeline with consecutive sleeps merged and sleeps after the last fault's heal
    /// dropped: what a person reads, and timing-equivalent up to the end of the last fault.
    static func tidy(_ steps: [Step]) -> [Step] {
        var out: [Step] = []
        for s in steps {
            if case .sleep(let b, let line) = s, case .sleep(let a, _)? = out.last { out[out.count - 1] = .sleep(a + b, line: line) } else { out.append(s) }
        }
        let lastFault = out.lastIndex { $0.isFault || Self.isHeal($0) || { if case .start = $0 { true } else if case .resume = $0 { true } else if case .heal(.link, _) = $0 { true } else { false } }($0) }
        if let lastFault { out = out.enumerated().filter { i, s in if case .sleep = s, i > lastFault { false } else { true } }.map(\.element) }
        return out
    }

    static func sleepTotal(_ steps: [Step]) -> Double {
        var total = 0.0
        for case .sleep(let s, _) in steps { total += s }
        return total
    }

    static func isHeal(_ s: Step) -> Bool {
        switch s {
        case .skew(_, 0, 0, _), .gateway(.heal, _): return true
        default: return false
        }
    }

    /// Whether `step` ends `fault`.
    static func heals(_ step: Step, _ fault: Step) -> Bool {
        switch (fault, step) {
        case (.kill(let t, _), .start(let u, _)), (.stop(let t, _), .start(let u, _)), (.pause(let t, _), .resume(let u, _)):
            return t.selector == u.selector
        case (.partition(let l, _, _, _), .heal(.link(let m), _)), (.packets(let l, _, _, _), .heal(.link(let m), _)), (.delay(let l, _, _, _), .heal(.link(let m), _)),
             (.bandwidth(let l, _, _), .heal(.link(let m), _)), (.reset(let l, _), .heal(.link(let m), _)):
            return l == m
        case (.skew(let t, _, _, _), .skew(let u, 0, 0, _)): return t.selector == u.selector
        case (.gateway, .gateway(.heal, _)): return true
        default: return false
        }
    }

    /// Loads what to shrink: the nemesis schedule if the run drew one, else the scenario as run.
    public static func loadTarget(_ dir: String) throws -> (Scenario, ScenarioReport) {
        let file = FileManager.default.fileExists(atPath: "\(dir)/schedule.yml") ? "\(dir)/schedule.yml" : "\(dir)/scenario.yml"
        let scenario = try ScenarioLoader.load(path: file)
        guard let data = FileManager.default.contents(atPath: "\(dir)/report.json"),
              let report = try? JSONCodec.decode(ScenarioReport.self, from: data) else {
            throw RunnerError("\(dir) has no report.json: give the folder of one scenario of a finished run")
        }
        return (scenario, report)
    }

    public func run(progress: @escaping (String) -> Void) async throws -> Result {
        let (original, report) = try Self.loadTarget(runDirectory)
        let failing = Set(report.checks.filter { $0.verdict == .fail }.map(\.name))
        let target = checkNames ?? failing
        guard !target.isEmpty else { throw RunnerError("the run in \(runDirectory) did not fail any check: nothing to shrink") }
        var options = self.options
        options.seed = report.seed
        options.timeScale = report.timeScale
        if let data = FileManager.default.contents(atPath: "\(runDirectory)/\(RunRecord.metaFile)"),
           let meta = try? JSONCodec.decode(RunMeta.self, from: data), let env = meta.nodeEnvironment, options.nodeEnvironment.isEmpty {
            options.nodeEnvironment = env
        }
        progress("shrink: \(Self.units(original.steps).count) fault(s) in \(original.file); keeping schedules that fail \(target.sorted().joined(separator: ", ")); seed \(report.seed), budget \(Int(budget)) s")
        var best = original
        func fails(_ candidate: Scenario) async -> Bool {
            attempts += 1
            var runs = 0
            for _ in 0..<confirmations {
                guard Date().timeIntervalSince(started) < budget else { return false }
                runs += 1
                var o = options
                o.progress = { _ in }
                o.keep = false
                let dir = "\(runDirectory)/shrink/\(String(format: "%02d", attempts))-\(runs)"
                let reports = (try? await SuiteRunner(options: o, supervisor: supervisor, runDirectory: dir).run([candidate])) ?? []
                let failed = reports.first.map { r in r.checks.contains { $0.verdict == .fail && target.contains($0.name) } } ?? false
                if !failed {
                    progress("shrink: attempt \(attempts): \(Self.units(candidate.steps).count) fault(s), \(String(format: "%.0f", Self.sleepTotal(candidate.steps))) logical s of sleeps -> passes\(runs > 1 ? " on run \(runs)" : "")")
                    return false
                }
            }
            progress("shrink: attempt \(attempts): \(Self.units(candidate.steps).count) fault(s), \(String(format: "%.0f", Self.sleepTotal(candidate.steps))) logical s of sleeps -> fails \(runs) time(s) in a row")
            return true
        }
        // Remove faults: chunks of half, then quarters, … then singles (ddmin over units).
        var chunk = max(1, Self.units(best.steps).count / 2)
        while chunk >= 1, Date().timeIntervalSince(started) < budget {
            var progressed = false
            var start = 0
            while start < Self.units(best.steps).count, Date().timeIntervalSince(started) < budget {
                let units = Self.units(best.steps)
                let drop = Set(units[start..<min(units.count, start + chunk)].flatMap { [$0.fault] + ($0.heal.map { [$0] } ?? []) })
                var candidate = best
                candidate.steps = best.steps.enumerated().filter { !drop.contains($0.offset) }.map(\.element)
                if await fails(candidate) { best = candidate; best.steps = Self.tidy(best.steps); progressed = true } else { start += chunk }
            }
            if !progressed { chunk /= 2 }
        }
        // Shorten holds: halve every sleep while it still fails.
        var halvings = 0
        while halvings < 3, Date().timeIntervalSince(started) < budget {
            var candidate = best
            candidate.steps = best.steps.map { if case .sleep(let s, let l) = $0, s >= 2 { return .sleep((s / 2).rounded(), line: l) } else { return $0 } }
            guard candidate.steps != best.steps, await fails(candidate) else { break }
            best = candidate
            halvings += 1
        }
        let path = "\(runDirectory)/shrunk.yml"
        let faults = Self.units(best.steps).count
        try ScenarioWriter.yaml(best, comment: "Shrunk by `wachaos shrink` from \(original.file) (\(Self.units(original.steps).count) faults -> \(faults)) in \(attempts) attempt(s);\nstill fails: \(target.sorted().joined(separator: ", ")). Seed \(report.seed).")
            .write(toFile: path, atomically: true, encoding: .utf8)
        return Result(scenario: best, faults: faults, originalFaults: Self.units(original.steps).count, attempts: attempts, checks: target.sorted(), path: path)
    }
}
