import Foundation
import Testing
import WATestKit

/// No node outlives the runner: not when it is SIGKILLed (PDEATHSIG), not on Ctrl-C/SIGTERM
/// (its signal handler kills every process group it started).
@Suite(.serialized) struct RunnerTeardownTests {

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
        p.currentDirectoryURL = URL(fileURLWithPath: ProcessTree.packageRoot)
        let out = Pipe(); p.standardOutput = out; p.standardError = out
        try p.run()
        // Children of the runner, once all five are there (db, gateway, master, coreapp, webapp).
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if ProcessTree.children(of: p.processIdentifier).count >= 5 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        Thread.sleep(forTimeInterval: 1.5)
        return (p, ProcessTree.descendants(of: p.processIdentifier))
    }

    static var engines: [String] { TestPostgres.shouldRun ? ["sqlite", "postgres"] : ["sqlite"] }

    @Test(arguments: engines)
    func nodesDieWhenTheRunnerIsKilled(_ db: String) throws {
        let (runner, nodes) = try startRunner(db: db)
        // With PostgreSQL the server's own helpers (checkpointer, walwriter, backends) count too.
        #expect(nodes.count >= (db == "postgres" ? 8 : 5), "the runner started its nodes: \(nodes)")
        kill(runner.processIdentifier, SIGKILL)
        runner.waitUntilExit()
        #expect(ProcessTree.waitAllGone(nodes, within: 5).isEmpty, "nodes outlived a SIGKILLed runner")
    }

    @Test func ctrlCTearsEverythingDown() throws {
        let (runner, nodes) = try startRunner()
        #expect(nodes.count >= 5)
        kill(runner.processIdentifier, SIGINT)
        runner.waitUntilExit()
        #expect(runner.terminationStatus == 130, "SIGINT exits with 130")
        #expect(ProcessTree.waitAllGone(nodes, within: 5).isEmpty, "nodes outlived Ctrl-C")
    }
}
