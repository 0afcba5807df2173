import ChaosCheckers
import ChaosScenario
import Foundation
import ProcessSupervisor
import WACore

/// Runs scenarios one after another and writes the run folder:
/// `timeline.jsonl`, `report.json`, `junit.xml`, `summary.txt`, and per scenario the node logs.
public final class SuiteRunner {
    public let options: RunOptions
    public let supervisor: Supervisor
    public let runDirectory: String

    public init(options: RunOptions, supervisor: Supervisor, runDirectory: String) {
        self.options = options; self.supervisor = supervisor; self.runDirectory = runDirectory
    }

    public func run(_ scenarios: [Scenario]) async throws -> [ScenarioReport] {
        try FileManager.default.createDirectory(atPath: runDirectory, withIntermediateDirectories: true)
        let external = try options.databaseEnvFile.map(DatabaseProvider.externalServer(envFile:))
        let databases = DatabaseProvider(runDirectory: runDirectory, supervisor: supervisor, external: external)
        var reports: [ScenarioReport] = []
        var timeline: [TimelineEntry] = []
        for (i, s) in scenarios.enumerated() {
            let dir = "\(runDirectory)/\(s.name)"
            let runner = ScenarioRunner(scenario: s, options: options, supervisor: supervisor, directory: dir,
                                        index: "\(i + 1)/\(scenarios.count)", databases: databases)
            let report = await runner.run()
            reports.append(report)
            timeline += runner.timeline
            if report.verdict != .pass {
                options.progress("[\(s.name)] \(report.verdict.rawValue.uppercased()) — seed \(report.seed); node logs kept in \(dir)")
            } else if !options.keep {
                // Passed: keep what `recheck` reads (logs, journal, history, receipts, run.json)
                // and the reports; drop the bulky database and data folders.
                for sub in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where !Self.kept(sub) {
                    try? FileManager.default.removeItem(atPath: "\(dir)/\(sub)")
                }
            }
            try write(reports: reports, timeline: timeline)
        }
        if !options.keep, reports.allSatisfy({ $0.verdict == .pass }), let template = databases.templateDirectory {
            try? FileManager.default.removeItem(atPath: template)
        }
        return reports
    }

    static func kept(_ file: String) -> Bool {
        file == "gateway" || [".log", ".jsonl", ".json", ".yml", ".html", ".png"].contains { file.hasSuffix($0) }
    }

    func write(reports: [ScenarioReport], timeline: [TimelineEntry]) throws {
        try JSONCodec.prettyData(JSONCodec.encode(reports)).write(to: URL(fileURLWithPath: "\(runDirectory)/report.json"))
        let lines = try timeline.map { String(decoding: try JSONCodec.encodedData($0), as: UTF8.self) }.joined(separator: "\n") + "\n"
        try lines.write(toFile: "\(runDirectory)/timeline.jsonl", atomically: true, encoding: .utf8)
        try JUnitReport.xml(reports).write(toFile: "\(runDirectory)/junit.xml", atomically: true, encoding: .utf8)
        try SummaryTable.render(reports).write(toFile: "\(runDirectory)/summary.txt", atomically: true, encoding: .utf8)
    }
}

/// JUnit XML for CI: one testcase per scenario, failures listing the failed checks.
enum JUnitReport {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func xml(_ reports: [ScenarioReport]) -> String {
        let failures = reports.filter { $0.verdict == .fail }.count
        let unknown = reports.filter { $0.verdict == .unknown }.count
        let total = reports.reduce(0) { $0 + $1.realSeconds }
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        out += "<testsuites name=\"wachaos\" tests=\"\(reports.count)\" failures=\(q(failures)) errors=\(q(unknown)) time=\(q(total))>\n"
        out += "  <testsuite name=\"chaos\" tests=\"\(reports.count)\" failures=\(q(failures)) errors=\(q(unknown)) time=\(q(total))>\n"
        for r in reports {
            out += "    <testcase classname=\"chaos\" name=\"\(escape(r.scenario))\" file=\"\(escape(r.file))\" time=\(q(r.realSeconds))>\n"
            let bad = r.checks.filter { $0.verdict != .pass }
            if r.verdict == .fail {
                let msg = bad.filter { $0.verdict == .fail }.map { "\($0.name): \($0.reason)" }.joined(separator: "\n")
                out += "      <failure message=\"\(escape(String(msg.prefix(500))))\">\(escape(msg))\nseed \(r.seed)</failure>\n"
            } else if r.verdict == .unknown {
                let msg = bad.map { "\($0.name): \($0.reason)" }.joined(separator: "\n")
                out += "      <error message=\"unknown outcome\">\(escape(msg))</error>\n"
            }
            let log = r.checks.map { "\($0.verdict.rawValue.uppercased()) \($0.name): \($0.reason)\($0.bounds.map { " [\($0)]" } ?? "")" }.joined(separator: "\n")
            out += "      <system-out>\(escape(log))</system-out>\n    </testcase>\n"
        }
        out += "  </testsuite>\n</testsuites>\n"
        return out
    }

    static func q(_ n: Int) -> String { "\"\(n)\"" }
    static func q(_ d: Double) -> String { "\"\(String(format: "%.3f", d))\"" }
}

/// The summary table printed at the end of a run.
public enum SummaryTable {
    public static func render(_ reports: [ScenarioReport]) -> String {
        var rows: [[String]] = [["scenario", "result", "real s", "sent/ok/fail/info", "delivered/lost/dup/conflicts", "measured (logical s)", "bounds (logical s)"]]
        for r in reports {
            let windows = r.checks.filter { !$0.figures.isEmpty && $0.bounds != nil }
            let measured = windows.map { c -> String in
                let d = c.figures["detection_logical"].map { String(format: "detect %.1f", $0) }
                let rec = c.figures["recovery_logical"].map { String(format: "recover %.1f", $0) }
                let db = c.figures["db_recovery_logical"].map { String(format: "healthy %.1f after db back", $0) }
                return [d, rec, db].compactMap { $0 }.joined(separator: ", ")
            }.joined(separator: "; ")
            let takeover = r.checks.compactMap { $0.figures["takeover_logical"] }.map { String(format: "lease moved %.1f", $0) }
            let bounds = windows.compactMap { $0.bounds?.components(separatedBy: " logical").first }.joined(separator: "; ")
            func figure(_ check: String, _ key: String) -> String { r.checks.figure(check, key) }
            let loss = "no accepted message lost"
            let counts = ["sent", "ok", "fail", "info"].map { figure(loss, $0) }.joined(separator: "/")
            let fate = [figure("statuses reach the webhook", "delivered"), figure(loss, "lost"), figure("no duplicated message", "duplicated"),
                        figure("no gateway conflict", "conflicts")].joined(separator: "/")
            rows.append([r.scenario, r.verdict.rawValue.uppercased(), String(format: "%.1f", r.realSeconds), counts, fate,
                         ([measured] + takeover).filter { !$0.isEmpty }.joined(separator: "; "), bounds])
            for c in r.checks where c.verdict != .pass {
                rows.append(["  ↳ " + c.name, c.verdict.rawValue, "", "", "", String(c.reason.prefix(110)), ""])
            }
        }
        let widths = (0..<7).map { col in rows.map { $0[col].count }.max() ?? 0 }
        let lines = rows.enumerated().map { i, row -> String in
            let line = row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: " | ")
            return i == 0 ? line + "\n" + widths.map { String(repeating: "-", count: $0) }.joined(separator: "-|-") : line
        }
        let passed = reports.filter { $0.verdict == .pass }.count
        return lines.joined(separator: "\n") + "\n\n\(passed) passed, \(reports.count - passed) failed\n"
    }
}
