import Foundation
import NetHosts
import Testing
import WATestKit

/// `--net netns` end to end, with real namespaces: nothing of a run is left after the runner is
/// SIGKILLed or interrupted in the middle of a partition; without CAP_NET_ADMIN the runner says
/// which capability and which steps, and exits 2 or falls back as asked; the kernel refuses in
/// one line what it cannot do.
@Suite(.serialized, .enabled(if: HostReadiness.probe().canHostNamespaces, "needs CAP_NET_ADMIN, CAP_SYS_ADMIN, ip, nft and tc"))
struct NetnsRunTests {
    static var wachaos: String {
        get throws { URL(fileURLWithPath: try #require(BinaryLocator.wacluster())).deletingLastPathComponent().appendingPathComponent("wachaos").path }
    }

    /// Writes `steps` as a scenario and starts `wachaos run` on it; output goes to a file.
    func start(_ steps: String, arguments: [String] = ["--net", "netns"], via wrapper: [String] = []) throws -> (Process, String, String) {
        let dir = NSTemporaryDirectory() + "wachaos-netns-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let scenario = dir + "/probe.yml"
        try "name: netns-probe\ntime_scale: 0.1\ntopology: {masters: 2, coreapps: 2}\nsteps:\n\(steps)\n".write(toFile: scenario, atomically: true, encoding: .utf8)
        let log = dir + "/out.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let p = Process()
        let command = [try Self.wachaos, "run", scenario, "--runs-dir", dir + "/runs"] + arguments
        if wrapper.isEmpty {
            p.executableURL = URL(fileURLWithPath: command[0])
            p.arguments = Array(command.dropFirst())
        } else {
            p.executableURL = URL(fileURLWithPath: wrapper[0])
            p.arguments = Array(wrapper.dropFirst()) + [command.map { "'\($0)'" }.joined(separator: " ")]
        }
        p.currentDirectoryURL = URL(fileURLWithPath: ProcessTree.packageRoot)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = handle; p.standardError = handle
        try p.run()
        return (p, log, dir)
    }

    func output(_ log: String) -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    func waitFor(_ text: String, in log: String, within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if output(log).contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// The janitor of the run whose runner is `pid` (it runs outside the runner's tree).
    static func janitors(of pid: Int32) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }.filter { p in
            guard let data = FileManager.default.contents(atPath: "/proc/\(p)/cmdline") else { return false }
            let words = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return words.contains("netns-janitor") && words.contains { $0.hasPrefix("\(RunTag.prefix)-\(pid)-") }
        }
    }

    static func rootLinks() throws -> Set<String> {
        Set(try HostCommand.run(["ip", "-o", "link", "show"]).split(separator: "\n").compactMap { $0.split(separator: ":").dropFirst().first.map { $0.trimmingCharacters(in: .whitespaces) } })
    }

    @Test(arguments: [SIGKILL, SIGINT])
    func nothingOfARunIsLeftWhenItsRunnerDiesInAPartition(_ signal: Int32) throws {
        let linksBefore = try Self.rootLinks()
        let tablesBefore = try HostCommand.run(["nft", "list", "tables"])
        let (runner, log, _) = try start("""
              - wait_healthy: {timeout: 60}
              - partition: {from: master1, to: owner(shard: 0)}
              - partition: {from: master2, to: db, direction: one_way}
              - sleep: 600
            """)
        try #require(waitFor("partition master2 -> db", in: log, within: 60), "the partitions went in: \(output(log))")
        let pid = runner.processIdentifier
        let tree = ProcessTree.descendants(of: pid)
        let janitor = Self.janitors(of: pid)
        #expect(janitor.count == 1, "one janitor, outside the runner's tree: \(janitor)")
        #expect(!tree.contains { janitor.contains($0) })
        let ours = NamespaceSweeper.runNamespaces().filter { $0.hasPrefix("\(RunTag.prefix)-\(pid)-") }
        #expect(ours.count >= 8, "a hub and one namespace per host: \(ours)")
        // What runs in them, and the rules they hold now.
        let inside = ours.flatMap { ns in ((try? HostCommand.run(["ip", "netns", "pids", ns])) ?? "").split(separator: "\n").compactMap { Int32($0) } }
        #expect(inside.count >= 7, "every node runs in its namespace: \(inside)")
        let master1 = try #require(ours.first { $0.hasSuffix("-master1") })
        #expect(try HostCommand.run(["ip", "netns", "exec", master1, "nft", "list", "ruleset"]).contains("drop"), "the partition is a kernel rule")

        kill(pid, signal)
        runner.waitUntilExit()
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline, !NamespaceSweeper.runNamespaces().filter({ $0.hasPrefix("\(RunTag.prefix)-\(pid)-") }).isEmpty {
            Thread.sleep(forTimeInterval: 0.1)
        }
        #expect(NamespaceSweeper.runNamespaces().filter { $0.hasPrefix("\(RunTag.prefix)-\(pid)-") }.isEmpty, "namespaces left: \(NamespaceSweeper.runNamespaces())")
        #expect(ProcessTree.waitAllGone(inside + tree + janitor, within: 5).isEmpty, "processes outlived the runner (nodes, their children, the janitor once done)")
        // Nothing was ever made outside the run's namespaces: the machine's own are as before.
        #expect(try Self.rootLinks() == linksBefore)
        #expect(try HostCommand.run(["nft", "list", "tables"]) == tablesBefore)
    }

    @Test func withoutCapNetAdminTheReportNamesItAndAutoFallsBack() throws {
        let capsh = ["/usr/sbin/capsh", "/sbin/capsh"].first { FileManager.default.isExecutableFile(atPath: $0) }
        let drop = try #require(capsh, "capsh (libcap2-bin) is installed")
        let steps = "  - wait_healthy: {timeout: 60}\n  - partition: {from: master1, to: owner(shard: 0)}\n  - heal: all\n  - wait_healthy: {timeout: 60}"
        let (insist, insistLog, _) = try start(steps, arguments: ["--net", "netns"], via: [drop, "--drop=cap_net_admin", "--", "-c"])
        insist.waitUntilExit()
        #expect(insist.terminationStatus == 2, "exit 2 when the scenario insists on netns: \(output(insistLog))")
        #expect(output(insistLog).contains("CAP_NET_ADMIN no"))
        #expect(output(insistLog).contains("missing CAP_NET_ADMIN: needed for veth pairs"))
        #expect(output(insistLog).contains("--net netns needs CAP_NET_ADMIN"))

        let (auto, autoLog, _) = try start(steps, arguments: ["--net", "auto"], via: [drop, "--drop=cap_net_admin", "--", "-c"])
        auto.waitUntilExit()
        #expect(auto.terminationStatus == 0, "net auto falls back to the proxy mesh and passes: \(output(autoLog))")
        #expect(output(autoLog).contains("net auto: falling back to the proxy mesh (missing CAP_NET_ADMIN)"))
        #expect(output(autoLog).contains("1 passed, 0 failed"))
    }

    @Test func whatTheKernelCannotDoIsRefusedInOneLineNamingTheModule() throws {
        let features = try KernelFeatures.probe(tag: RunTag.current())
        let (rejecting, rejectLog, _) = try start("""
              - wait_healthy: {timeout: 60}
              - partition: {from: master1, to: owner(shard: 0), mode: reject}
              - heal: all
              - wait_healthy: {timeout: 60}
            """)
        rejecting.waitUntilExit()
        #expect(output(rejectLog).contains("partition master1 <-> wacore1 (reject)"), "reject is a kernel rule on netns: \(output(rejectLog))")
        #expect(rejecting.terminationStatus == 0)
        let (runner, log, _) = try start("""
              - wait_healthy: {timeout: 60}
              - duplicate: {from: master2, to: owner(shard: 0), percent: 10}
              - heal: all
            """)
        runner.waitUntilExit()
        let text = output(log)
        #expect(runner.terminationStatus == (features.netem ? 0 : 1))
        if !features.netem {
            // Refused before the cluster booted: the kernel cannot carry the scenario out.
            #expect(text.contains("line 6: duplicate needs the kernel module sch_netem (CONFIG_NET_SCH_NETEM), which this kernel lacks; the scenario was not started"), "\(text)")
            #expect(!text.contains("cluster up"), "nothing booted: \(text)")
        } else {
            #expect(text.contains("duplicate 10% of the packets"), "\(text)")
        }
        // The proxy mesh refuses reject and packet faults in one line too.
        let (proxy, proxyLog, _) = try start("  - wait_healthy: {timeout: 60}\n  - loss: {from: master1, to: db, percent: 5}", arguments: ["--net", "proxy"])
        proxy.waitUntilExit()
        #expect(output(proxyLog).contains("loss needs --net netns: the proxy mesh relays bytes over TCP and never sees a packet"), "\(output(proxyLog))")
    }
}
