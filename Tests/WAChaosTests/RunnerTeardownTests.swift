import Foundation
import Testing
import WATestKit

/// No node outlives the runner: not when it is SIGKILLed (PDEATHSIG), not on Ctrl-C/SIGTERM
/// (its signal handler kills every process group it started).
@Suite(.serialized) struct RunnerTeardownTests {
    func packageRoot() -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// Starts `wachaos run` on a scenario that sleeps, and waits until its nodes are up; answers
    /// every process below the runner (PostgreSQL's own children included).
    func startRunner(db: String = "sqlite") throws -> (Process, [Int32]) {
        let bin = try #require(BinaryLocator.wacluster())
        let dir = NSTemporaryDirectory() + "wachaos-teardown-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let scenario = dir + "/long.yml"
        try """
        name: teardown-probe
        time_scale: 0.1
        topology: {masters: 1, coreapps: 1}
        steps:
          - wait_healthy: {timeout: 60}
          - sleep: 600
        """.write(toFile: scenario, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin).deletingLastPathComponent().appendingPathComponent("wachaos")
        p.arguments = ["run", scenario, "--runs-dir", dir + "/runs", "--db", db]
        p.currentDirectoryURL = URL(fileURLWithPath: packageRoot())
        let out = Pipe(); p.standardOutput = out; p.standardError = out
        try p.run()
        // Children of the runner, once all five are there (db, gateway, master, coreapp, webapp).
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if children(of: p.processIdentifier).count >= 5 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        Thread.sleep(forTimeInterval: 1.5)
        return (p, descendants(of: p.processIdentifier))
    }

    func descendants(of pid: Int32) -> [Int32] {
        children(of: pid).flatMap { [$0] + descendants(of: $0) }
    }

    func children(of pid: Int32) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { t -> [Int32] in
            ((try? String(contentsOfFile: "/proc/\(pid)/task/\(t)/children", encoding: .utf8)) ?? "")
                .split(separator: " ").compactMap { Int32($0) }
        }
    }

    func alive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        // A zombie waiting for its reaper is dead for our purposes.
        return !stat.contains(") Z ")
    }

    func waitAllGone(_ pids: [Int32], within seconds: Double) -> [Int32] {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if pids.allSatisfy({ !alive($0) }) { return [] }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return pids.filter(alive)
    }

    static var engines: [String] { TestPostgres.shouldRun ? ["sqlite", "postgres"] : ["sqlite"] }

    @Test(arguments: engines)
    func nodesDieWhenTheRunnerIsKilled(_ db: String) throws {
        let (runner, nodes) = try startRunner(db: db)
        // With PostgreSQL the server's own helpers (checkpointer, walwriter, backends) count too.
        #expect(nodes.count >= (db == "postgres" ? 8 : 5), "the runner started its nodes: \(nodes)")
        kill(runner.processIdentifier, SIGKILL)
        runner.waitUntilExit()
        #expect(waitAllGone(nodes, within: 5).isEmpty, "nodes outlived a SIGKILLed runner")
    }

    @Test func ctrlCTearsEverythingDown() throws {
        let (runner, nodes) = try startRunner()
        #expect(nodes.count >= 5)
        kill(runner.processIdentifier, SIGINT)
        runner.waitUntilExit()
        #expect(runner.terminationStatus == 130, "SIGINT exits with 130")
        #expect(waitAllGone(nodes, within: 5).isEmpty, "nodes outlived Ctrl-C")
    }
}
