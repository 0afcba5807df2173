import ChaosCheckers
import Foundation
import Testing
import WAChaos
import WACore
import WATestKit

/// `wachaos up` as a person uses it: a real session driven through its control API, the
/// recording it leaves replayed by `wachaos run`, and nothing of it left once it is SIGKILLed.
@Suite(.serialized) struct UpSessionTests {
    struct Session {
        let process: Process
        let runs: String
        let client: ControlClient
        let output: String
    }

    var wachaos: String {
        get throws { URL(fileURLWithPath: try #require(BinaryLocator.wacluster())).deletingLastPathComponent().appendingPathComponent("wachaos").path }
    }

    /// Starts `wachaos up` and waits until it takes requests.
    func startUp(_ arguments: [String]) async throws -> Session {
        let runs = NSTemporaryDirectory() + "wachaos-up-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: runs, withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try wachaos)
        p.arguments = ["up", "--runs-dir", runs, "--view", "lines"] + arguments
        p.currentDirectoryURL = URL(fileURLWithPath: ProcessTree.packageRoot)
        let output = runs + "/up-output.txt"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        p.standardOutput = handle; p.standardError = handle
        try p.run()
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline, p.isRunning {
            if let client = try? ControlClient(sessionFile: "\(runs)/\(SessionInfo.latestFileName)"),
               let s = try? await client.status(), s.interactive {
                return Session(process: p, runs: runs, client: client, output: output)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        p.terminate()
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        throw ClusterError("wachaos up did not take requests within 90 s:\n\(text.suffix(2000))")
    }

    func verdicts(_ reportFile: String) throws -> [String: Verdict] {
        let data = try #require(FileManager.default.contents(atPath: reportFile), "no \(reportFile)")
        let reports = try JSONCodec.decode([ScenarioReport].self, from: data)
        var out: [String: Verdict] = [:]
        for c in try #require(reports.first).checks { out[c.name] = c.verdict }
        return out
    }

    @Test func theControlAPIDrivesAFailoverAndTheRecordingReplaysIt() async throws {
        // Two masters: heartbeat monitoring is the secondary's job (SPEC §3).
        let up = try await startUp(["--topology", "masters: 2, coreapps: 2", "--workload", "40:4", "--time-scale", "0.1"])
        defer { if up.process.isRunning { up.process.interrupt() } }
        // Traffic before the fault, so the loss check has sends to judge.
        try await Task.sleep(for: .seconds(2))
        let before = try await up.client.status()
        let owner = try #require(before.nodes.first { $0.shard == 0 }?.name, "no owner of shard 0 in \(before.nodes)")
        let kill = try await up.client.step(try SessionWords.step(["kill", "owner:0"]))
        #expect(kill.notes.contains { $0.contains("SIGKILL \(owner)") }, "\(kill)")
        let killed = try await up.client.status()
        #expect(killed.nodes.first { $0.name == owner }?.process == "down")
        #expect(killed.faults.map(\.kind) == ["kill"])

        // The heartbeat window at scale 0.1 is under 6 s real; allow a loaded machine 30.
        var successor: String?
        let deadline = Date().addingTimeInterval(30)
        while successor == nil, Date() < deadline {
            successor = try await up.client.status().nodes.first { $0.shard == 0 && $0.name != owner && $0.gateway == "connected" }?.name
            if successor == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        #expect(successor != nil, "no other coreapp took shard 0 in status within 30 s")
        let measured = try await up.client.step("expect_failover: {shard: 0, bound: heartbeat}")
        #expect(measured.checks.first?.hasPrefix("PASS expect_failover shard 0") == true, "\(measured.checks) in \(up.runs)")

        // Sends through the successor inside the fault's window (the loss check wants 20 or more).
        try await Task.sleep(for: .seconds(2))
        _ = try await up.client.step(try SessionWords.step(["start", owner]))
        _ = try await up.client.step(try SessionWords.step(["heal", "all"]))
        try await Task.sleep(for: .seconds(1))
        let healed = try await up.client.status()
        #expect(healed.faults.isEmpty, "faults left after heal: \(healed.faults)")
        #expect(healed.nodes.first { $0.name == owner }?.process == "running")

        _ = try await up.client.call("POST", "/v1/stop")
        let stopBy = Date().addingTimeInterval(120)
        while up.process.isRunning, Date() < stopBy { try await Task.sleep(for: .milliseconds(200)) }
        #expect(!up.process.isRunning, "wachaos up did not end within 120 s of stop")
        #expect(up.process.terminationStatus == 0, "up exited \(up.process.terminationStatus): \((try? String(contentsOfFile: up.output, encoding: .utf8))?.suffix(1500) ?? "")")
        let session = up.client.info.directory
        let recorded = try verdicts(URL(fileURLWithPath: session).deletingLastPathComponent().path + "/report.json")
        #expect(recorded["expect_failover shard 0"] == .pass)
        #expect(recorded["no accepted message lost"] == .pass)

        // The recording, replayed by `wachaos run`, gets the same verdicts.
        let yaml = try String(contentsOfFile: "\(session)/session.yml", encoding: .utf8)
        #expect(yaml.contains("kill: \"owner(shard: 0)\"") && yaml.contains("expect_failover: {shard: 0, bound: heartbeat}") && yaml.contains("heal: all"), "\(yaml)")
        let replay = Process()
        replay.executableURL = URL(fileURLWithPath: try wachaos)
        replay.arguments = ["run", "\(session)/session.yml", "--runs-dir", "\(up.runs)/replay"]
        replay.currentDirectoryURL = URL(fileURLWithPath: ProcessTree.packageRoot)
        replay.standardOutput = FileHandle.nullDevice; replay.standardError = FileHandle.nullDevice
        try replay.run()
        replay.waitUntilExit()
        #expect(replay.terminationStatus == 0, "the replay failed")
        let folder = try #require(try FileManager.default.contentsOfDirectory(atPath: "\(up.runs)/replay").first)
        let replayed = try verdicts("\(up.runs)/replay/\(folder)/report.json")
        #expect(replayed == recorded, "session \(recorded) vs replay \(replayed)")
        if replayed == recorded, recorded.values.allSatisfy({ $0 == .pass }) { try? FileManager.default.removeItem(atPath: up.runs) }
        else { print("session folders kept for inspection: \(up.runs)") }
    }

    static var engines: [String] { TestPostgres.shouldRun ? ["sqlite", "postgres"] : ["sqlite"] }

    @Test(arguments: engines)
    func nothingOfAKilledSessionIsLeft(_ db: String) async throws {
        let up = try await startUp(["--topology", "masters: 1, coreapps: 1", "--db", db, "--time-scale", "0.1"])
        let processes = ProcessTree.descendants(of: up.process.processIdentifier)
        #expect(processes.count >= (db == "postgres" ? 8 : 5), "the session's processes: \(processes)")
        let links = try JSONCodec.decode([LinkStatus].self, from: try await up.client.call("GET", "/v1/links").body)
        #expect(!links.isEmpty)
        let ports = links.map(\.port) + [try #require(URL(string: up.client.info.control)?.port)]
        kill(up.process.processIdentifier, SIGKILL)
        up.process.waitUntilExit()
        #expect(ProcessTree.waitAllGone(processes, within: 5).isEmpty, "processes outlived a SIGKILLed wachaos up")
        // The proxies and the control API lived in the runner's process: their ports are free.
        for port in ports {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET); a.sin_port = in_port_t(UInt16(port).bigEndian); a.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            close(s)
            #expect(connected != 0, "something still listens on 127.0.0.1:\(port) after the session was SIGKILLed")
        }
        #expect(throws: ControlError.self) { try ControlClient(sessionFile: "\(up.runs)/\(SessionInfo.latestFileName)") }
        try? FileManager.default.removeItem(atPath: up.runs)
    }
}
