import ChaosCheckers
import ChaosScenario
import Foundation
import ProcessSupervisor
import WACore
import WATestKit

/// Settings of one `wachaos up`.
public struct UpOptions: Sendable {
    /// The cluster: topology, settings, shards, workload (and, with `replay`, the steps to run first).
    public var scenario: Scenario
    /// Run the scenario's steps before handing control over (`--replay FILE`).
    public var replay = false
    public var run = RunOptions()
    public var runsDirectory = "runs"
    /// The control API's loopback port (0: any free one).
    public var controlPort = 0
    /// How the live view draws: a screen redrawn in place, one line per change, or not at all.
    public var view: LiveViewMode = .lines
    /// Where the banner and the live view go.
    public var output: @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) }
    public init(scenario: Scenario) { self.scenario = scenario }
}

public enum LiveViewMode: String, Sendable, CaseIterable {
    case screen, lines, off
}

/// A session of `wachaos up`: boots the scenario's cluster, serves the control API, runs what
/// it is asked one step at a time (the runner's own code, so a session and its replay do the
/// same), records every step as a scenario, and ends on `stop` or Ctrl-C with the checks a
/// run gets.
public final class UpSession: SessionControl {
    public let options: UpOptions
    let supervisor: Supervisor
    /// The suite folder and, below it, the session's own (node logs, session.yml, reports).
    public let runDirectory: String
    public let directory: String
    let token: String
    private let requests: AsyncStream<Request>
    private let submit: AsyncStream<Request>.Continuation
    private let live: Locked<LiveState>
    private let recorded: Locked<SessionRecording>
    private let clusterUpAt = Locked<Double?>(nil)
    /// Where things are, on top of the screen view (the banner scrolls away under it).
    private let viewHeader = Locked<[String]>([])

    enum Request: Sendable {
        case step(Step, text: String, reply: CheckedContinuation<StepAnswer, any Error>)
        case stop
    }

    /// What the status handlers read while the session's task runs steps.
    struct LiveState: Sendable {
        var cluster: LocalCluster?
        var mesh: LinkMesh?
        var stream: MessageStream?
        var faults: [SessionStatus.Fault] = []
        var deaths: [String: [Double]] = [:]
        var paused: Set<String> = []
        /// Killed or stopped by the session, though perhaps not reaped yet.
        var down: Set<String> = []
        var shards = 1
        var workload: String?
        var events: [SessionStatus.Event] = []
        var interactive = false
        var ending = false
        var engine = ""
        /// Notes taken while a requested step runs, for its answer.
        var capture: [String]?
    }

    public init(options: UpOptions, supervisor: Supervisor) {
        self.options = options
        self.supervisor = supervisor
        let f = DateFormatter(); f.dateFormat = "yyyyMMdd-HHmmss"; f.timeZone = TimeZone(identifier: "UTC")
        // Absolute: another terminal in another folder reads these paths from session.json.
        let runs = options.runsDirectory.hasPrefix("/") ? options.runsDirectory : FileManager.default.currentDirectoryPath + "/" + options.runsDirectory
        runDirectory = "\(runs)/\(f.string(from: Date()))-up-\(options.scenario.name)"
        directory = "\(runDirectory)/\(options.scenario.name)"
        token = (0..<4).map { _ in String(format: "%08x", UInt32.random(in: .min ... .max)) }.joined()
        (requests, submit) = AsyncStream.makeStream(of: Request.self)
        live = Locked(LiveState(shards: options.scenario.shards))
        recorded = Locked(SessionRecording(header: options.scenario, scale: options.run.timeScale ?? options.scenario.timeScale ?? 1))
    }

    var scale: Double { recorded.withLock { $0.scale } }
    func sinceStart(_ t: Double = Date().timeIntervalSince1970) -> Double { t - (clusterUpAt.value ?? t) }

    /// Runs the session to its end; answers the report of its checks.
    public func run() async throws -> ScenarioReport {
        var header = options.scenario
        header.steps = []
        header.timeScale = scale
        var run = options.run
        run.timeScale = scale
        let view = options.view
        let log = "\(directory)/session.log"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let output = options.output
        let progressLog = FileHandle(forWritingAtPath: log)
        run.progress = { line in
            progressLog?.write(Data((line + "\n").utf8))
            // On a screen the view shows the events; elsewhere the lines are the record.
            if view != .screen { output(line + "\n") }
        }
        run.session = { [self] runner in try await self.drive(runner) }
        let reports = try await SuiteRunner(options: run, supervisor: supervisor, runDirectory: runDirectory).run([header])
        try? progressLog?.close()
        return reports[0]
    }

    /// Asks the session to end (the control API's `stop`, the first Ctrl-C).
    public func stop() {
        live.withLock { s in
            s.ending = true
            submit.yield(.stop)
        }
    }

    var isEnding: Bool { live.withLock { $0.ending } }

    // MARK: the session's own task

    func drive(_ runner: ScenarioRunner) async throws {
        runner.onNote = { [self] entry in
            let event = SessionStatus.Event(at: sinceStart(entry.ts), kind: entry.kind, detail: entry.detail)
            live.withLock { s in
                s.events.append(event)
                if s.events.count > 50 { s.events.removeFirst(s.events.count - 50) }
                // Checks come back on their own in the answer.
                if entry.kind != "check" { s.capture?.append(entry.detail) }
            }
            publish(runner)
        }
        defer { runner.onNote = nil }
        clusterUpAt.withLock { $0 = Date().timeIntervalSince1970 }
        if runner.scenario.register { try await runner.receiveWebhooks() }
        live.withLock { $0.cluster = runner.cluster; $0.mesh = runner.links as? LinkMesh; $0.engine = runner.cluster.layout.database.engine.scenarioName }
        // The recording says what ran: the seed and engine in force, not only the file's.
        recorded.withLock { $0.ran(seed: runner.seed, engine: runner.cluster.layout.database.engine) }
        publish(runner)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // sun_path holds 108 bytes; a deep session folder gets a short path of its own.
            let socket = "\(directory)/control.sock".utf8.count < 100 ? "\(directory)/control.sock" : "/tmp/wachaos-up-\(getpid()).sock"
            let port = Locked<Int?>(nil)
            group.addTask { [self] in
                try await ControlServer.serve(self, token: token, port: options.controlPort, socket: socket,
                                              ready: { p in port.withLock { $0 = p } },
                                              unavailable: { why in FileHandle.standardError.write(Data("wachaos up: no unix socket (\(why)); the loopback port serves\n".utf8)) })
            }
            let deadline = Date().addingTimeInterval(10)
            while port.value == nil, Date() < deadline { try await Polling.pause(seconds: 0.02) }
            guard let bound = port.value, bound > 0 else { throw RunnerError("the control API could not listen on 127.0.0.1:\(options.controlPort)") }
            let info = SessionInfo(control: "http://127.0.0.1:\(bound)", socket: socket, token: token, directory: directory,
                                   api: "http://\(runner.cluster.webappAddress)", adminToken: runner.cluster.token ?? "",
                                   webhook: runner.webhook?.url, pid: getpid(), scenario: runner.scenario.name)
            try writeSessionFiles(info)
            options.output(banner(info, runner))
            viewHeader.withLock { $0 = [
                "REST API \(info.api) (admin token \(info.adminToken.prefix(16))…) · webhooks \(info.webhook ?? "none")",
                "control \(info.control) (token in \(SessionInfo.fileName)) · session \(info.directory)",
                "wachaos fault kill wacore1 · wachaos fault heal all · wachaos logs · wachaos support-bundle · Ctrl-C ends",
                "",
            ] }
            group.addTask { [self] in await recordHealth() }
            if options.view != .off { group.addTask { [self] in await drawView() } }

            // A replayed file waits as its author wrote; a new session starts from a healthy cluster.
            if !options.replay { try await perform(.waitHealthy(timeout: 120, line: 1), runner: runner) }
            if options.replay {
                for step in options.scenario.steps where !isEnding { try await perform(step, runner: runner) }
                runner.note("session", "replayed \(options.scenario.steps.count) steps of \(options.scenario.file); control is yours")
            }
            live.withLock { $0.interactive = true }
            publish(runner)
            loop: for await request in requests {
                switch request {
                case .stop: break loop
                case .step(_, _, let reply) where isEnding:
                    reply.resume(throwing: ControlError(.sessionEnding, "the session is ending; the step was not run"))
                case .step(let step, let text, let reply):
                    live.withLock { $0.capture = [] }
                    let checksBefore = runner.checks.count
                    do {
                        try await perform(step, runner: runner)
                        let notes = live.withLock { s in defer { s.capture = nil }; return s.capture ?? [] }
                        let checks = runner.checks[checksBefore...].map { "\($0.verdict.rawValue.uppercased()) \($0.name): \($0.reason)" }
                        reply.resume(returning: StepAnswer(step: text, notes: notes, checks: checks))
                    } catch {
                        live.withLock { $0.capture = nil }
                        runner.note("session", "step refused: \(text): \(error)")
                        reply.resume(throwing: ControlError(.stepFailed, "\(error)"))
                    }
                    publish(runner)
                }
            }
            live.withLock { $0.ending = true; $0.interactive = false }
            finishRecording()
            runner.note("session", "ending: healing, draining, stopping every node")
            group.cancelAll()
        }
        // Requests that came in while the session ended.
        submit.finish()
        for await request in requests {
            if case .step(_, _, let reply) = request { reply.resume(throwing: ControlError(.sessionEnding, "the session is ending")) }
        }
    }

    /// Runs a step on the runner and records it. A step that failed before it touched the
    /// cluster (a selector that matched nothing) is not recorded; one that failed after it
    /// injected something or moved a process is, so the replay does the same.
    func perform(_ step: Step, runner: ScenarioRunner) async throws {
        let started = sinceStart()
        let before = (runner.faultLog.count, runner.lifecycle.values.reduce(0) { $0 + $1.count })
        func record() {
            recorded.withLock { $0.append(step, started: started, ended: sinceStart()) }
            writeRecording(endedAt: nil)
        }
        do {
            if case .sleep(let logical, _) = step {
                // A sleep gives way to the end of the session (Ctrl-C during a replay).
                let end = Date().addingTimeInterval(logical * scale)
                runner.note("step", "sleep \(logical) logical s")
                while Date() < end, !isEnding { try await Polling.pause(seconds: min(0.1, end.timeIntervalSinceNow)) }
            } else {
                try await runner.execute(step)
            }
        } catch {
            if (runner.faultLog.count, runner.lifecycle.values.reduce(0) { $0 + $1.count }) != before { record() }
            throw error
        }
        record()
    }

    /// Copies what the status handlers need out of the runner, on the runner's task.
    func publish(_ runner: ScenarioRunner) {
        let start = clusterUpAt.value ?? runner.started
        let faults = runner.activeFaults.values.sorted { $0.id < $1.id }
            .map { SessionStatus.Fault(id: $0.id, kind: $0.kind, detail: $0.detail, since: $0.ts - start) }
        let paused = Set(runner.lifecycle.compactMap { $0.value.last?.state == .paused ? $0.key : nil })
        let down = Set(runner.lifecycle.compactMap { $0.value.last?.state == .down ? $0.key : nil })
        let w = runner.workloadNow.map { String(format: "%g messages/s from %d senders", $0.messagesPerSecond, $0.senders) }
        live.withLock { s in
            s.faults = faults; s.deaths = runner.deaths; s.paused = paused; s.down = down; s.shards = runner.shardsNow
            s.workload = w; s.stream = runner.workloadNow == nil ? nil : runner.stream
        }
    }

    func finishRecording() { writeRecording(endedAt: sinceStart()) }

    func writeRecording(endedAt: Double?) {
        try? recording(endedAt: endedAt).write(toFile: "\(directory)/session.yml", atomically: true, encoding: .utf8)
    }

    func recording(endedAt: Double?) -> String {
        let s = recorded.withLock { $0.scenario(endedAt: endedAt) }
        let flags = options.run.nodeEnvironment.sorted { $0.key < $1.key }.map { " --node-env \($0.key)=\($0.value)" }.joined()
            + options.run.builds.sorted { $0.key < $1.key }.map { " --build \($0.key)=\($0.value)" }.joined()
            + (options.run.databaseEnvFile.map { " --db-env \($0)" } ?? "")
        return ScenarioWriter.yaml(s, comment: "Recorded by `wachaos up` (seed \(s.seed ?? 1), scale \(scale)).\nReplay: wachaos run \(directory)/session.yml\(flags)   (or interactively: wachaos up --replay \(directory)/session.yml\(flags))")
    }

    func writeSessionFiles(_ info: SessionInfo) throws {
        let data = JSONCodec.prettyData(try JSONCodec.encode(info))
        // Only the user may read the token.
        for path in ["\(directory)/\(SessionInfo.fileName)", "\(URL(fileURLWithPath: runDirectory).deletingLastPathComponent().path)/\(SessionInfo.latestFileName)"] {
            // Created 0600 from the first byte (a file made then chmodded is readable between).
            unlink(path)
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            guard fd >= 0 else { throw RunnerError("cannot write \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == data.count else { throw RunnerError("cannot write \(path): short write") }
        }
    }

    func banner(_ info: SessionInfo, _ runner: ScenarioRunner) -> String {
        let t = runner.scenario.topology
        return """

            wachaos up: \(runner.scenario.name) is up (db \(live.withLock { $0.engine }), \(t.webapps) webapp, \(t.masters) masters, \(t.coreapps + t.standbyCoreapps) coreapps, \(runner.shardsNow) shard\(runner.shardsNow == 1 ? "" : "s"), scale \(scale), seed \(runner.seed))
              REST API     \(info.api)   admin token \(info.adminToken)   (user admin, password \(LocalCluster.password))
              webhooks     \(info.webhook ?? "none (register: false)")
              control API  \(info.control)   token \(info.token)   socket \(info.socket)
              session      \(info.directory)   (session.yml records every step; `wachaos run` it to replay)
              try          wachaos fault kill wacore1 · wachaos fault partition master1 owner:0 --one-way · wachaos fault heal all
                           wachaos status · wachaos watch · wachaos logs · wachaos support-bundle · Ctrl-C ends the session


            """
    }

    // MARK: background work (ends with the session)

    /// The health the cluster answered, every few seconds, for the support bundle.
    func recordHealth() async {
        let path = "\(directory)/health-history.jsonl"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        guard let file = FileHandle(forWritingAtPath: path) else { return }
        defer { try? file.close() }
        while !Task.isCancelled {
            if let cluster = live.withLock({ $0.cluster }) {
                let answer = try? await cluster.api("GET", "/v1/health", timeout: 3)
                var line: JSONValue = .object(["ts": .number(Date().timeIntervalSince1970), "status": .number(Double(answer?.status ?? 0))])
                if case .object(var o) = line { o["health"] = answer?.json ?? .null; line = .object(o) }
                var data = JSONCodec.data(line); data.append(0x0A)
                file.write(data)
            }
            try? await Polling.pause(seconds: 5)
        }
    }

    func drawView() async {
        var last = ""
        if options.view == .screen { options.output("\u{1B}[2J") }
        while !Task.isCancelled {
            let s = await status()
            switch options.view {
            case .screen:
                let size = LiveView.terminalSize() ?? (120, 50)
                options.output(LiveView.redraw(LiveView.screen(s, width: size.width, height: size.height, header: viewHeader.value)))
            case .lines:
                let line = LiveView.line(s)
                if line != last { options.output(String(format: "[%@] ", LiveView.clock(s.uptime)) + line + "\n"); last = line }
            case .off: return
            }
            try? await Polling.pause(seconds: 1)
        }
    }

    // MARK: SessionControl (any task)

    public func status() async -> SessionStatus {
        let s = live.withLock { $0 }
        var nodes: [SessionStatus.Node] = []
        var sends: [SessionStatus.ShardSends] = []
        if let cluster = s.cluster {
            let health = try? await cluster.health(timeout: 2)
            let events = cluster.allEvents()
            let now = Date().timeIntervalSince1970
            let view = ClusterView(events: events, deaths: s.deaths, scale: scale)
            let owners = view.owners(at: now).filter { cluster.process($0.value)?.isAlive == true && !s.down.contains($0.value) }
            var versions: [String: String] = [:]
            for e in events where e.event == "node_started" { if let v = e.fields["version"] { versions[e.node] = v } }
            let names = [ClusterNodeNames.database, ClusterNodeNames.gateway] + cluster.layout.webappNames + cluster.layout.masterNames + cluster.layout.coreappNames
            for name in names {
                let node = cluster.nodes[name]
                let alive = cluster.process(name)?.isAlive == true
                let entry = health?[name]
                let process = node == nil ? "external" : (!alive || s.down.contains(name) ? "down" : (s.paused.contains(name) ? "paused" : "running"))
                nodes.append(SessionStatus.Node(name: name, role: entry?.role ?? node?.role.rawValue ?? "db", process: process,
                                                gateway: entry?.status, shard: owners.first { $0.value == name }?.key,
                                                version: versions[name], error: entry?.errorDetails))
            }
            let since = now - 10
            let recent = (s.stream?.recentOutcomes ?? []).filter { $0.at >= since }
            for shard in 0..<s.shards {
                let mine = recent.filter { $0.shard == shard }
                sends.append(SessionStatus.ShardSends(shard: shard, owner: owners[shard], accepted: mine.filter(\.accepted).count,
                                                      refused: mine.filter { !$0.accepted }.count))
            }
        }
        return SessionStatus(scenario: options.scenario.name, uptime: sinceStart(), scale: scale, seed: options.run.seed ?? options.scenario.seed ?? 1,
                             engine: s.engine, shards: s.shards, interactive: s.interactive, nodes: nodes, faults: s.faults,
                             workload: s.workload, window: 10, sends: sends, events: Array(s.events.suffix(20)))
    }

    public func links() -> [LinkStatus] {
        guard let mesh = live.withLock({ $0.mesh }) else { return [] }
        return mesh.proxies.sorted { ($0.key.from, $0.key.to) < ($1.key.from, $1.key.to) }
            .map { LinkStatus(from: $0.key.from, to: $0.key.to, port: $0.value.listenPort, fault: $0.value.activeFault.map { "\($0)" }) }
    }

    public func health() async throws -> JSONValue {
        guard let cluster = live.withLock({ $0.cluster }) else { throw ControlError(.noSession, "the cluster is not up yet") }
        let r = try await cluster.api("GET", "/v1/health", timeout: 5)
        guard let json = r.json else { throw ControlError(.stepFailed, "health answered \(r.status): \(r.text.prefix(200))") }
        return json
    }

    public func step(_ text: String) async throws -> StepAnswer {
        let (cluster, ending, interactive, shards) = live.withLock { ($0.cluster, $0.ending, $0.interactive, $0.shards) }
        guard !ending else { throw ControlError(.sessionEnding, "the session is ending; start another with `wachaos up`") }
        guard cluster != nil, interactive else { throw ControlError(.noSession, "the session is still starting (or replaying its steps); try again in a moment") }
        let step: Step
        let sawFault = recorded.withLock { $0.entries.contains { $0.step.kind.isFault } }
        switch ScenarioLoader.step(text, topology: options.scenario.topology, shards: shards, sawFault: sawFault) {
        case .success(let s): step = s
        case .failure(let e): throw ControlError(.badStep, e.description)
        }
        if case .nemesis = step { throw ControlError(.badStep, "nemesis draws faults for a scripted run; in a session inject them one by one") }
        if case .settings(let settings, _) = step, let problem = Self.offLoopbackWebhook(settings) { throw ControlError(.badStep, problem) }
        return try await withCheckedThrowingContinuation { reply in
            // Checked and queued under one lock with `stop()`: nothing is queued behind the stop.
            let refused: ControlError? = live.withLock { s in
                if s.ending { return ControlError(.sessionEnding, "the session is ending; start another with `wachaos up`") }
                if case .terminated = submit.yield(.step(step, text: text, reply: reply)) { return ControlError(.sessionEnding, "the session has ended") }
                return nil
            }
            if let refused { reply.resume(throwing: refused) }
        }
    }

    /// A session's callbacks stay on this machine: a webhook URL elsewhere is refused.
    static func offLoopbackWebhook(_ settings: SettingsOverrides) -> String? {
        guard case .object(let hooks)? = settings.passthrough["webhooks"], case .string(let url)? = hooks["url"] else { return nil }
        guard let host = URL(string: url)?.host, ["127.0.0.1", "localhost", "::1"].contains(host) else {
            return "settings: webhooks.url \(url) is not on this machine; a session sends callbacks to its own receiver (or another on 127.0.0.1)"
        }
        return nil
    }

    public func recording() -> String { recording(endedAt: sinceStart()) }

    public func supportBundle() async throws -> String {
        guard let cluster = live.withLock({ $0.cluster }) else { throw ControlError(.noSession, "the cluster is not up yet") }
        let stamp = Int(Date().timeIntervalSince1970)
        let name = "support-bundle-\(stamp)"
        let folder = "\(directory)/\(name)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let fm = FileManager.default
        for file in (try? fm.contentsOfDirectory(atPath: directory)) ?? [] where file.hasSuffix(".log") || file.hasSuffix(".jsonl") || file == "session.yml" {
            try? fm.copyItem(atPath: "\(directory)/\(file)", toPath: "\(folder)/\(file)")
        }
        try? recording().write(toFile: "\(folder)/session.yml", atomically: true, encoding: .utf8)
        let logs = NodeLogs.nodes(in: directory).map { node in
            (node: node, text: (try? String(contentsOfFile: "\(directory)/\(node).log", encoding: .utf8)) ?? "")
        }
        try NodeLogs.render(NodeLogs.merge(logs)).write(toFile: "\(folder)/debug_output.txt", atomically: true, encoding: .utf8)
        for (file, path) in [("settings.json", "/v1/settings/application"), ("db-stats.json", "/v1/stats/db"),
                             ("support.json", "/v1/support"), ("health.json", "/v1/health")] {
            let r = try? await cluster.api("GET", path, timeout: 5)
            let body: JSONValue = r?.json ?? .object(["error": .string(r.map { "\($0.status): \($0.text.prefix(200))" } ?? "no answer")])
            try JSONCodec.prettyData(body).write(to: URL(fileURLWithPath: "\(folder)/\(file)"))
        }
        try JSONCodec.prettyData(JSONCodec.encode(await status())).write(to: URL(fileURLWithPath: "\(folder)/status.json"))
        let archive = "\(directory)/\(name).tar.gz"
        let tar = try supervisor.spawn(ProcessSpec(name: "support-bundle", executable: "/bin/tar", arguments: ["-czf", archive, "-C", directory, name],
                                                    logFile: "\(folder).tar.log"))
        let exit = await tar.waitForExit() ?? .exited(-1)
        guard exit == .exited(0) else { throw ControlError(.stepFailed, "tar did not write \(archive) (\(exit)); see \(folder).tar.log") }
        try? fm.removeItem(atPath: folder)
        try? fm.removeItem(atPath: "\(folder).tar.log")
        return archive
    }
}
