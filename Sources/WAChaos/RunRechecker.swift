import ChaosCheckers
import Foundation
import WACore

/// Re-judges saved runs with this build's checkers, starting nothing.
public enum RunRechecker {
    public struct Outcome: Sendable {
        public var directory: String
        public var scenario: String
        public var results: [CheckResult]
        /// Verdicts the run folder's own report recorded, by check name.
        public var recorded: [String: Verdict]
        public var verdict: Verdict {
            results.contains { $0.verdict == .fail } ? .fail : (results.contains { $0.verdict == .unknown } ? .unknown : .pass)
        }
    }

    /// The scenario folders under `path`: itself when it holds `run.json`, else its children that do.
    public static func scenarioFolders(_ path: String) throws -> [String] {
        let fm = FileManager.default
        if fm.fileExists(atPath: "\(path)/\(RunRecord.metaFile)") { return [path] }
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { throw RunRecordError("no such run folder: \(path)") }
        let subs = ((try? fm.contentsOfDirectory(atPath: path)) ?? []).sorted().map { "\(path)/\($0)" }
            .filter { fm.fileExists(atPath: "\($0)/\(RunRecord.metaFile)") }
        if subs.isEmpty { throw RunRecordError("\(path) holds no scenario run (no \(RunRecord.metaFile) in it or in its folders)") }
        return subs
    }

    public static func run(_ path: String) throws -> [Outcome] {
        try scenarioFolders(path).map { dir in
            let record = try RunRecord.load(directory: dir)
            var recorded: [String: Verdict] = [:]
            if let data = FileManager.default.contents(atPath: "\(dir)/report.json"), let report = try? JSONCodec.decode(ScenarioReport.self, from: data) {
                for c in report.checks { recorded[c.name] = c.verdict }
            }
            return Outcome(directory: dir, scenario: record.meta.scenario, results: Checker.judge(record), recorded: recorded)
        }
    }

    public static func render(_ outcomes: [Outcome]) -> String {
        var out = ""
        for o in outcomes {
            out += "\(o.scenario) (\(o.directory)): \(o.verdict.rawValue.uppercased())\n"
            for c in o.results {
                let was = o.recorded[c.name].map { $0 == c.verdict ? "" : " (was \($0.rawValue))" } ?? (c.name == Checker.failoverWindows.name ? "" : " (new)")
                out += "  \(c.verdict.rawValue.uppercased().padding(toLength: 7, withPad: " ", startingAt: 0)) \(c.name)\(was): \(c.reason)\n"
            }
        }
        let passed = outcomes.filter { $0.verdict == .pass }.count
        return out + "\n\(passed) of \(outcomes.count) scenario run(s) pass on recheck\n"
    }
}
