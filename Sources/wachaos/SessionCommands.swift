import ArgumentParser
import ChaosScenario
import Foundation
import ProcessSupervisor
import WAChaos
import WACore

/// `wachaos up`: a cluster kept running for a person to poke, watch and record.
struct Up: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a cluster and keep it running: inject faults from another terminal (`wachaos fault`), watch it, and keep the session as a scenario.",
        discussion: """
            The cluster comes from SCENARIO (its topology, settings, shards and workload; its steps run only with --replay) \
            or from --topology. `up` prints where the REST API is, an admin token, the webhook receiver it hosts and the \
            control API's address and token, then shows a live view. Everything done to the cluster is written as a \
            scenario (SESSION/session.yml) that `wachaos run` replays with the same checks. Ctrl-C (or `wachaos stop`) \
            heals, drains, stops every node, removes the throwaway database and writes the report; a second Ctrl-C stops at once.
            """)
    @Argument(help: "A scenario file giving the cluster (its steps are not run; see --replay).") var scenario: String?
    @Option(help: "Replay this scenario's steps first, then hand control over.") var replay: String?
    @Option(help: "The topology when no scenario is given, as in a scenario file, e.g. \"masters: 2, coreapps: 3\".")
    var topology: String?
    @Option(help: "Shards (1, 2, 4, 8, 16, 32).") var shards: Int?
    @Option(help: "A customer's settings: the JSON GET /v1/settings/application answered.") var settings: String?
    @Option(help: "Start a message stream: RATE (messages per second) or RATE:SENDERS.") var workload: String?
    @Option(help: "Time scale: real = logical × scale (default 1: real time, as a customer's cluster runs).") var timeScale: Double?
    @Option(help: "Seed for every random choice.") var seed: UInt64?
    @Option(help: "The control API's port on 127.0.0.1 (default: any free port).") var controlPort: Int = 0
    @Option(help: "Live view: screen (redrawn in place; the default on a terminal), lines (one line per change) or off.")
    var view: String?
    @Option(help: "Where session folders go.") var runsDir = "runs"
    @OptionGroup var source: ClusterSourceOptions

    func validate() throws {
        if scenario != nil, replay != nil { throw ValidationError("give a SCENARIO or --replay FILE, not both") }
        if topology != nil, scenario != nil || replay != nil { throw ValidationError("--topology is for a cluster without a scenario file; the file has its own topology") }
        if let shards, !Scenario.allowedShardCounts.contains(shards) { throw ValidationError("--shards must be one of 1, 2, 4, 8, 16, 32, got \(shards)") }
        if let t = timeScale, !(t > 0 && t <= 10) { throw ValidationError("--time-scale must be in (0, 10], got \(t)") }
        if let view, LiveViewMode(rawValue: view) == nil { throw ValidationError("--view must be screen, lines or off, got '\(view)'") }
        if !(0...65535).contains(controlPort) { throw ValidationError("--control-port must be in 0...65535, got \(controlPort)") }
        if let settings, !FileManager.default.isReadableFile(atPath: settings) { throw ValidationError("--settings: cannot read \(settings)") }
        if let workload { _ = try Self.workloadText(workload) }
    }

    /// `20` or `20:4` as a scenario's workload mapping.
    static func workloadText(_ text: String) throws -> String {
        let parts = text.split(separator: ":").map(String.init)
        guard (1...2).contains(parts.count), let rate = Double(parts[0]), rate > 0, parts.count == 1 || Int(parts[1]) != nil else {
            throw ValidationError("--workload expects RATE or RATE:SENDERS, e.g. 20 or 20:4; got '\(text)'")
        }
        return "{messages_per_second: \(parts[0])\(parts.count == 2 ? ", senders: \(parts[1])" : "")}"
    }

    /// The customer's settings file as a scenario's settings mapping (JSON is YAML).
    static func settingsText(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let json = try? JSONValue.parse(data) else {
            throw ValidationError("--settings \(path): not JSON; expected what GET /v1/settings/application answered")
        }
        // `{"settings": {"application": {...}}}` as the API answers, or the inner object.
        var inner = json["settings"]?["application"] ?? json["application"] ?? json
        guard case .object(var settings) = inner else { throw ValidationError("--settings \(path): expected a JSON object of settings") }
        // What the API shows but does not take (the registered number): this cluster has its own.
        for key in ApplicationSettings.readOnly { settings[key] = nil }
        inner = .object(settings)
        // The customer's webhook URL is theirs: the session's own receiver takes the callbacks
        // (a session sends traffic only to loopback).
        if case .object(var hooks)? = settings["webhooks"], hooks["url"] != nil {
            hooks["url"] = nil
            settings["webhooks"] = hooks.isEmpty ? nil : .object(hooks)
            FileHandle.standardError.write(Data("wachaos up: --settings: webhooks.url left out; the session's own receiver takes the callbacks\n".utf8))
            inner = .object(settings)
        }
        return String(decoding: JSONCodec.data(inner), as: UTF8.self)
    }

    func cluster() throws -> Scenario {
        var yaml: String
        var file = "wachaos up"
        if let path = scenario ?? replay {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("cannot read \(path)") }
            yaml = text
            file = path
        } else {
            yaml = """
                name: up
                topology: {\(topology ?? "masters: 2, coreapps: 3")}
                steps:
                  - wait_healthy: {timeout: 120}

                """
        }
        var s: Scenario
        do { s = try ScenarioLoader.parse(yaml: yaml, file: topology != nil ? "--topology" : file) }
        catch { FileHandle.standardError.write(Data("\(error)\n".utf8)); throw ExitCode(2) }
        if let shards { s.shards = shards }
        if s.topology.net == .netns {
            throw ValidationError("\(file): net: netns is for wachaos run; a session of wachaos up stays on the proxy mesh, where your shell, curl and the control API reach every node on loopback")
        }
        // A session's hosts are on loopback, whatever `net: auto` would pick.
        s.topology.net = .proxy
        // Settings and workload through the scenario parser: the same checks as in a file.
        var extra: [String] = []
        if let settings { extra.append("settings: \(try Self.settingsText(settings))") }
        if let workload { extra.append("workload: \(try Self.workloadText(workload))") }
        if !extra.isEmpty {
            let probe = "name: probe\ntopology: {masters: 1, coreapps: 1}\n\(extra.joined(separator: "\n"))\nsteps:\n  - wait_healthy: {timeout: 1}\n"
            let parsed: Scenario
            do { parsed = try ScenarioLoader.parse(yaml: probe, file: settings.map { "--settings \($0)" } ?? "--workload") }
            catch { FileHandle.standardError.write(Data("\(error)\n".utf8)); throw ExitCode(2) }
            if settings != nil { s.settings = s.settings.merging(parsed.settings) }
            if workload != nil { s.workload = parsed.workload }
        }
        return s
    }

    func run() async throws {
        let scenario = try cluster()
        let supervisor = Supervisor()
        try? supervisor.enableSubreaper()
        var options = UpOptions(scenario: scenario)
        options.replay = replay != nil
        options.runsDirectory = runsDir
        options.controlPort = controlPort
        options.view = view.flatMap(LiveViewMode.init) ?? (isatty(STDOUT_FILENO) == 1 ? .screen : .lines)
        options.run.seed = seed
        options.run.timeScale = timeScale ?? scenario.timeScale ?? 1
        try source.apply(to: &options.run)
        options.run.keep = true
        let session = UpSession(options: options, supervisor: supervisor)
        supervisor.installSignalHandlers(gracefully: { _ in
            FileHandle.standardError.write(Data("\nwachaos up: ending the session (again to stop at once)\n".utf8))
            session.stop()
        })
        try FileManager.default.createDirectory(atPath: runsDir, withIntermediateDirectories: true)
        let report = try await session.run()
        await supervisor.shutdown(grace: .seconds(3))
        if options.view == .screen { print("\u{1B}[2J\u{1B}[H", terminator: "") }
        print(SummaryTable.render([report]))
        print("session: \(session.directory)")
        print("replay:  wachaos run \(session.directory)/session.yml")
        if report.verdict != .pass { throw ExitCode(1) }
    }
}

/// Finds the running session: `--session FILE`, `$WACHAOS_SESSION`, or the latest under `--runs-dir`.
struct SessionOption: ParsableArguments {
    @Option(help: "The session file `wachaos up` wrote (default: $WACHAOS_SESSION, else RUNS/up-session.json).") var session: String?
    @Option(help: "Where `wachaos up` keeps its sessions.") var runsDir = "runs"

    func client(requireRunning: Bool = true) throws -> ControlClient {
        try ControlClient(sessionFile: ControlClient.sessionFile(session, runsDirectory: runsDir), requireRunning: requireRunning)
    }
}

/// Exits 1 with the session's error, or 2 when there is no session, instead of a stack of text.
func reportingControlErrors(_ body: () async throws -> Void) async throws {
    do { try await body() } catch let e as ControlError {
        FileHandle.standardError.write(Data("wachaos: \(e)\n".utf8))
        throw ExitCode(e.code == .noSession ? 2 : 1)
    }
}

struct Fault: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inject or heal a fault in the running `wachaos up` session (or run any scenario step in it).",
        discussion: "WORDS:\n" + SessionWords.usage + "\n\nExamples: wachaos fault kill wacore1 · wachaos fault partition master1 owner:0 --one-way · wachaos fault heal all · wachaos fault step 'expect_failover: {shard: 0, bound: heartbeat}'")
    @OptionGroup var where_: SessionOption
    // Unrecognised flags (--one-way) stay with the words; --session and --runs-dir are parsed anywhere.
    @Argument(parsing: .allUnrecognized, help: "The fault, e.g. kill wacore1.") var words: [String] = []

    func run() async throws {
        try await reportingControlErrors {
            let text = try SessionWords.step(words)
            let answer = try await where_.client().step(text)
            print("ok: \(answer.step)")
            for n in answer.notes { print("  \(n)") }
            for c in answer.checks { print("  \(c)") }
            if answer.checks.contains(where: { $0.hasPrefix("FAIL") }) { throw ExitCode(1) }
        }
    }
}

struct Workload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start, change or stop the session's message stream: RATE [SENDERS], or stop.")
    @OptionGroup var where_: SessionOption
    @Argument(help: "RATE [SENDERS], or stop.") var words: [String] = []
    func run() async throws {
        try await reportingControlErrors {
            let answer = try await where_.client().step(try SessionWords.step(["workload"] + words))
            print("ok: \(answer.step)")
            for n in answer.notes { print("  \(n)") }
        }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The running session's nodes, faults, per-shard sends and last events.")
    @OptionGroup var where_: SessionOption
    @Flag(help: "The status as JSON.") var json = false
    func run() async throws {
        try await reportingControlErrors {
            let client = try where_.client()
            if json {
                print(String(decoding: try await client.call("GET", "/v1/status", timeout: 10).body, as: UTF8.self), terminator: "")
            } else {
                print(LiveView.screen(try await client.status()).joined(separator: "\n"))
            }
        }
    }
}

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The running session's live view, from another terminal.")
    @OptionGroup var where_: SessionOption
    @Flag(help: "One line per change instead of a screen redrawn in place (the default when stdout is not a terminal).") var lines = false
    @Option(help: "Seconds between redraws.") var interval: Double = 1
    func run() async throws {
        try await reportingControlErrors {
            try await where_.client().watch(interval: interval, screen: !lines && isatty(STDOUT_FILENO) == 1) {
                FileHandle.standardOutput.write(Data($0.utf8))
            }
            print("\nthe session ended")
        }
    }
}

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A session's node logs merged in time order (as `docker-compose logs` gathers them).")
    @OptionGroup var where_: SessionOption
    @Option(help: "A session folder (default: the session file's).") var dir: String?
    @Argument(help: "Only these nodes (default: every node).") var nodes: [String] = []
    func run() throws {
        let folder: String
        if let dir { folder = dir } else {
            do { folder = try where_.client(requireRunning: false).info.directory }
            catch let e as ControlError { FileHandle.standardError.write(Data("wachaos: \(e)\n".utf8)); throw ExitCode(2) }
        }
        let known = NodeLogs.nodes(in: folder)
        guard !known.isEmpty else { FileHandle.standardError.write(Data("wachaos: no node logs in \(folder)\n".utf8)); throw ExitCode(2) }
        if let unknown = nodes.first(where: { !known.contains($0) }) {
            FileHandle.standardError.write(Data("wachaos: no log of \(unknown) in \(folder); nodes: \(known.joined(separator: ", "))\n".utf8))
            throw ExitCode(2)
        }
        let chosen = nodes.isEmpty ? known : nodes
        let logs = chosen.map { (node: $0, text: (try? String(contentsOfFile: "\(folder)/\($0).log", encoding: .utf8)) ?? "") }
        FileHandle.standardOutput.write(Data(NodeLogs.render(NodeLogs.merge(logs)).utf8))
    }
}

struct SupportBundle: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "support-bundle",
        abstract: "Write one archive of the running session: every log (and merged debug_output.txt), the health history, the settings, the DB stats and the recorded scenario.")
    @OptionGroup var where_: SessionOption
    func run() async throws {
        try await reportingControlErrors {
            let r = try await where_.client().call("POST", "/v1/support-bundle", timeout: 120)
            print(r.json?["path"]?.stringValue ?? r.text)
        }
    }
}

struct Stop: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "End the running session as Ctrl-C would: heal, drain, stop every node, write the report.")
    @OptionGroup var where_: SessionOption
    func run() async throws {
        try await reportingControlErrors {
            let client = try where_.client()
            _ = try await client.call("POST", "/v1/stop", timeout: 10)
            let ended = try await client.waitForEnd(timeout: 300)
            print(ended ? "the session ended; its folder: \(client.info.directory)" : "the session is still ending (pid \(client.info.pid))")
        }
    }
}
