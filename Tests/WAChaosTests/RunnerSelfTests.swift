import ChaosCheckers
import Foundation
import Testing
@testable import WAChaos
import WACore
import WATestKit

@Suite struct RunnerSelfTests {
    func packageRoot() -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    func wachaos() throws -> String {
        let bin = try #require(BinaryLocator.wacluster())
        return URL(fileURLWithPath: bin).deletingLastPathComponent().appendingPathComponent("wachaos").path
    }

    /// A failing expectation really fails: an impossible bound makes wachaos exit non-zero and
    /// the report says which check failed, with the measured figures and the bounds.
    @Test func wrongBoundFailsTheRun() throws {
        let runs = NSTemporaryDirectory() + "wachaos-selftest-\(UUID().uuidString.prefix(6))"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try wachaos())
        p.arguments = ["run", packageRoot() + "/chaos/selftest/wrong-bound.yml", "--runs-dir", runs, "--seed", "99"]
        p.currentDirectoryURL = URL(fileURLWithPath: packageRoot())
        let out = Pipe(); p.standardOutput = out; p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 1, "\(text.suffix(2000))")
        #expect(text.contains("selftest-wrong-bound") && text.contains("FAIL"))
        #expect(text.contains("--seed 99"), "the seed is printed with the failure")
        let dir = try #require(try FileManager.default.contentsOfDirectory(atPath: runs).first)
        let report = try JSONValue.parse(try Data(contentsOf: URL(fileURLWithPath: "\(runs)/\(dir)/report.json")))
        guard case .array(let scenarios) = report, case .array(let checks)? = scenarios.first?["checks"] else {
            Issue.record("report.json has no checks"); return
        }
        let failover = checks.first { $0["name"]?.stringValue == "expect_failover shard 0" }
        #expect(failover?["verdict"]?.stringValue == "fail")
        #expect(failover?["bounds"]?.stringValue?.contains("1.0") == true || failover?["bounds"] != nil)
        let junit = try String(contentsOfFile: "\(runs)/\(dir)/junit.xml", encoding: .utf8)
        #expect(junit.contains("<failure"))
    }

    @Test func checkRejectsABadScenarioWithFileLineAndField() throws {
        let file = NSTemporaryDirectory() + "bad-\(UUID().uuidString.prefix(6)).yml"
        try "name: bad\ntopology: {masters: 2, coreapps: 2}\nshards: 3\nsteps:\n  - sleep: 1\n".write(toFile: file, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try wachaos())
        p.arguments = ["check", file]
        let out = Pipe(); p.standardOutput = out; p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus != 0)
        #expect(text.contains("\(file):3: shards"), "\(text)")
    }

    @Test func goldenNormalisationHidesIdsAndUnreachableDetail() throws {
        let raw = try JSONValue.parse(Data("""
        {"health":{"wacore1:35a5fabfc79d":{"gateway_status":"connected","role":"coreapp"},
         "master1:b28d835cd579":{"errors":[{"code":1011,"title":"Service not ready",
           "details":"Node master1 is unreachable: no health answer within 0.3s"}]}}}
        """.utf8))
        let view = try #require(HealthView(raw))
        let normalized = view.normalized()
        let expected = try JSONValue.parse(Data("""
        {"health":{"wacore1:<id>":{"gateway_status":"connected","role":"coreapp"},
         "master1:<id>":{"errors":[{"code":1011,"title":"Service not ready","details":"Node master1 is unreachable"}]}}}
        """.utf8))
        #expect(normalized == expected)
        #expect(view["wacore1"]?.nodeID == "35a5fabfc79d")
        #expect(view["master1"]?.errorCode == 1011)
    }

    @Test func summaryAndJUnitNameEveryFailedCheck() {
        let report = ScenarioReport(scenario: "demo", file: "chaos/demo.yml", seed: 7, timeScale: 0.1, verdict: .fail, realSeconds: 3,
                                    checks: [CheckResult(name: "expect_failover shard 0", line: 9, verdict: .fail, reason: "recovery 40.0 logical s is outside the bounds",
                                                         figures: ["detection_logical": 29, "recovery_logical": 40], bounds: "1.0...5.0 logical s")],
                                    error: nil, runDirectory: "/tmp/x")
        let table = SummaryTable.render([report])
        #expect(table.contains("demo") && table.contains("FAIL") && table.contains("detect 29.0, recover 40.0") && table.contains("0 passed, 1 failed"))
        let xml = JUnitReport.xml([report])
        #expect(xml.contains("<failure") && xml.contains("seed 7") && xml.contains("tests=\"1\""))
    }
}
