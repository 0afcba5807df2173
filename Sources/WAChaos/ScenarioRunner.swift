import ChaosCheckers
import ChaosScenario
import Foundation
import LinkProxy
import NetHosts
import ProcessSupervisor
import WACore
import WATestKit
import WAWire

/// Settings of one `wachaos run`.
public struct RunOptions: Sendable {
    public var seed: UInt64?
    public var timeScale: Double?
    public var record = false
    public var keep = false
    public var fixturesDirectory = "fixtures"
    /// Real seconds of slack added to both ends of every window: a loaded 2-core machine
    /// schedules processes late; the report shows the slack next to the bounds.
    public var slackReal = 1.0
    /// Promotion allowance p of SPEC §10, logical seconds: the fencing wait (at most the shard
    /// lease TTL, 8 s, when the old owner is alive but cut off), a tick, and connecting.
    public var promotionAllowance = 10.0
    public var binary: String?
    /// The engine for every scenario, over the files' `topology.db` (`--db`).
    public var database: DatabaseEngine?
    /// An existing PostgreSQL server's `db.env` (`--db-env`): scenarios get a database there.
    public var databaseEnvFile: String?
    /// Extra environment for every node (`--node-env KEY=VALUE`), e.g. a test-only switch.
    public var nodeEnvironment: [String: String] = [:]
    /// Build folders by name (`--build NAME=DIR`), over the files' `topology.builds`.
    public var builds: [String: String] = [:]
    /// The net for every scenario, over the files' `topology.net` (`--net`); nil: the file's, else proxy.
    public var net: NetworkMode?
    /// The run's namespace hosts, once the runner is in its hub (`--net netns` or `auto` with the capabilities).
    public var netns: NetnsHosts?
    /// Why `net: auto` fell back to the proxy mesh (the capability report), for each scenario's report.
    public var netFallback: String?
    public var progress: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    /// What a session of `wachaos up` does between the scenario's steps and the teardown.
    var session: (@Sendable (ScenarioRunner) async throws -> Void)?
    public init() {}
}

/// Runs one scenario against a fresh cluster of real processes and checks it. Not Sendable:
/// used only by the task running `run()`; the workload reads the shard count through the
/// `Locked` `shardCount` alone.
final class ScenarioRunner {
    let scenario: Scenario
    let options: RunOptions
    let supervisor: Supervisor
    let directory: String
    let seed: UInt64
    let scale: Double
    let started = Date().timeIntervalSince1970
    var rng: SplitMix64
    var checks: [CheckResult] = []
    var timeline: [TimelineEntry] = []
    var labels: [String: String] = [:]
    var deaths: [String: [Double]] = [:]
    /// The shard count now: set by `set_shards` steps, read by the workload too.
    let shardCount: Locked<Int>
    var shardsNow: Int { shardCount.value }
    /// Every fault injected so far, with what the runner saw when it went in.
    var faultLog: [InjectedFault] = []
    /// Faults not yet healed, by what heals them.
    var activeFaults: [Int: InjectedFault] = [:]
    /// When the database last came back: the latest heal of a fault that had it as a target.
    var databaseBackAt: Double?
    var history: HistoryRecorder!
    var failovers: [FailoverExpectation] = []
    var workloadFrom: Double?
    var workloadTo: Double?
    var cluster: LocalCluster!
    var links: (any LinkFabric)!
    /// The cluster number of this scenario's hosts on `--net netns`.
    var netnsCluster: Int?
    var observer: ClusterObserver { ClusterObserver(cluster: cluster, deaths: deaths, scale: scale) }
    var stepIndex = 0
    var stepLine: Int?
    var webhook: WebhookReceiver?
    var stream: MessageStream?
    var streamTask: Task<Void, Never>?
    /// The workload running now (nil when stopped), and how many streams have run.
    var workloadNow: Workload?
    /// The latest workload started (its `min_sends_per_fault` judges the run).
    var lastWorkload: Workload?
    /// The settings in force: the file's, then every `settings` step's on top.
    lazy var settingsNow = scenario.settings
    var streams = 0
    /// Called with every line the runner notes (the session's live state listens).
    var onNote: ((TimelineEntry) -> Void)?

    let databases: DatabaseProvider
    var database: ClusterDatabase?
    /// The build each product node runs now (SPEC §13), and every upgrade step's record.
    var builds: [String: String] = [:]
    var upgrades: [UpgradeRecord] = []
    /// When each node's process started and stopped or froze, for the timeline's process lanes.
    var lifecycle: [String: [(at: Double, state: HTMLTimeline.ProcessState)]] = [:]

    init(scenario: Scenario, options: RunOptions, supervisor: Supervisor, directory: String, index: String, databases: DatabaseProvider) {
        self.databases = databases
        self.scenario = scenario
        self.options = options
        self.supervisor = supervisor
        self.directory = directory
        self.seed = options.seed ?? scenario.seed ?? 1
        self.scale = options.timeScale ?? scenario.timeScale ?? 0.1
        self.rng = SplitMix64(seed: seed)
        self.shardCount = Locked(scenario.shards)
        self.prefix = index
    }
    let prefix: String

    func now() -> Double { Date().timeIntervalSince1970 }
    func real(_ logical: Double) -> Double { logical * scale }
    var slackLogical: Double { options.slackReal / scale }

    func note(_ kind: String, _ detail: String) {
        let entry = TimelineEntry(ts: now(), scenario: scenario.name, step: stepIndex, line: stepLine, kind: kind, detail: detail)
        timeline.append(entry)
        onNote?(entry)
        options.progress(String(format: "[%@ %@] %6.2fs  %@%@", prefix, scenario.name, now() - started,
                                stepLine.map { "line \($0): " } ?? "", detail))
    }

    func record(_ c: CheckResult) {
        checks.append(c)
        let mark = c.verdict == .pass ? "PASS" : (c.verdict == .fail ? "FAIL" : "UNKNOWN")
        note("check", "\(mark) \(c.name): \(c.reason)\(c.bounds.map { " [bounds \($0)]" } ?? "")")
    }

    // MARK: run

    func run() async -> ScenarioReport {
        var failure: String?
        do {
            try await boot()
            for (i, step) in scenario.steps.enumerated() {
                stepIndex = i + 1
                stepLine = step.line
                try await execute(step)
            }
            stepLine = nil
            if let session = options.session { try await session(self) }
        } catch {
            let text = "\(error)"
            record(CheckResult(name: "scenario", line: stepLine, verdict: .fail,
                               reason: "\(text) (seed \(seed); rerun with --seed \(seed))"))
            failure = text
        }
        stepLine = nil
        await finishWorkload()
        await teardown()
        judgeSavedRun()
        let failed = checks.contains { $0.verdict == .fail }
        let unknown = checks.contains { $0.verdict == .unknown }
        let report = ScenarioReport(scenario: scenario.name, file: scenario.file, seed: seed, timeScale: scale,
                                    verdict: failed ? .fail : (unknown ? .unknown : .pass), realSeconds: now() - started,
                                    checks: checks, error: failure, runDirectory: directory,
                                    net: (links?.mode).map(\.rawValue), netNotes: links.flatMap { $0.notes.isEmpty ? nil : $0.notes })
        try? JSONCodec.prettyData(JSONCodec.encode(report)).write(to: URL(fileURLWithPath: "\(directory)/report.json"))
        return report
    }

    /// The net this scenario runs on: `--net`, else the file's, else the proxy mesh; `auto` is
    /// namespaces when the run has them.
    func networkMode() throws -> NetworkMode {
        switch options.net ?? scenario.topology.net ?? .proxy {
        case .proxy: return .proxy
        // An existing server is outside the run's namespaces: auto means the proxy mesh then.
        case .auto: return options.netns == nil || options.databaseEnvFile != nil ? .proxy : .netns
        case .netns:
            guard options.netns != nil else {
                throw RunnerError("this scenario needs --net netns, and the runner has no namespace hosts (see the capability report at the start)")
            }
            return .netns
        }
    }

    func boot() async throws {
        var layout = ClusterLayout()
        layout.webapps = scenario.topology.webapps
        layout.masters = scenario.topology.masters
        layout.coreapps = scenario.topology.coreapps
        layout.extraCoreapps = scenario.topology.standbyCoreapps
        layout.timeScale = scale
        layout.gatewaySeed = seed
        let engine = options.database ?? scenario.topology.db
        let database = try await databases.database(for: engine)
        self.database = database
        layout.database = database
        layout.environment = options.nodeEnvironment
        let net = try networkMode()
        if net == .netns, let netns = options.netns {
            if case .external = database {
                throw RunnerError("--net netns cannot reach an existing database server (--db-env): it is outside the run's namespaces; use --net proxy")
            }
            for step in scenario.steps {
                if let why = KernelLinks.refusal(step, features: netns.fabric.features) {
                    throw RunnerError("line \(step.line): \(why); the scenario was not started on --net netns")
                }
            }
            let k = netns.nextCluster()
            netnsCluster = k
            let hosts = try netns.fabric.addHosts(cluster: k, names: layout.hostNames)
            layout.hosts = hosts.mapValues { ClusterHost(address: $0.address, networkNamespace: $0.path) }
            note("boot", "net netns: \(hosts.count) hosts in namespaces \(netns.tag.namespace(cluster: k, host: "*")), addresses \(hosts.values.map(\.address).sorted { $0.compare($1, options: .numeric) == .orderedAscending }.first ?? "?")…; kernel: \(netns.fabric.features.summary)")
        } else if let why = options.netFallback, scenario.topology.net == .auto || options.net == .auto {
            note("boot", "net auto: on the proxy mesh, the namespaces need what is missing: \(why.replacingOccurrences(of: "\n", with: "; "))")
        }
        cluster = try LocalCluster(layout: layout, runDirectory: directory, binary: options.binary, supervisor: supervisor)
        try assignBuilds()
        history = HistoryRecorder(path: "\(cluster.runDirectory)/\(RunRecord.historyFile)", scale: scale)
        // The net it ran on, whatever chose it (--net, the file, auto): a rerun gets the same hosts.
        var asRun = scenario
        asRun.topology.net = net
        try? ScenarioWriter.yaml(asRun, comment: "The scenario as run (seed \(seed), scale \(scale), net \(net.rawValue)); `wachaos run` this file to run it again.")
            .write(toFile: "\(cluster.runDirectory)/scenario.yml", atomically: true, encoding: .utf8)
        for name in cluster.layout.webappNames + cluster.layout.masterNames + cluster.layout.coreappNames {
            cluster.setEnvironment(name, "WA_CLOCK_CONTROL", clockControlFile(name))
        }
        if net == .netns, let netns = options.netns {
            let kernel = KernelLinks(fabric: netns.fabric, cluster: cluster, seed: seed)
            if scenario.delaysLinks { try await kernel.routeThroughProxies() }
            links = kernel
        } else {
            let mesh = LinkMesh(cluster: cluster, seed: seed)
            try await mesh.start()
            links = mesh
        }
        note("boot", "starting \(cluster.nodes.count) processes (db: \(engine.scenarioName)\(cluster.hasDatabaseProcess ? "" : " on \(cluster.databaseConfig.address?.description ?? "?")"), scale \(scale), seed \(seed)) in \(directory)")
        let bootStart = now()
        try await cluster.startAll()
        for n in cluster.runningNames { lifecycle[n, default: []].append((bootStart, .running)) }
        try await cluster.login(timeout: 30)
        let patch = scenario.settings.applicationSettings
        if !patch.isEmpty {
            let json = try JSONCodec.encode(patch)
            try await cluster.patchSettings(json)
        }
        if scenario.workload != nil { try await receiveWebhooks() }
        if scenario.register {
            try await cluster.register()
            if scenario.shards > 1 { try await cluster.setShards(scenario.shards) }
        }
        if let w = scenario.workload {
            try await cluster.waitForHealth(timeout: 30) { self.isHealthy($0) }
            try await startWorkload(w)
        }
        note("boot", "cluster up: \(cluster.runningNames.joined(separator: " "))")
    }

    /// Points the cluster's webhooks at a receiver the runner hosts, once.
    func receiveWebhooks() async throws {
        guard webhook == nil else { return }
        // On namespaces the nodes reach the runner at the hub's address on the bridge.
        let receiver = WebhookReceiver(host: netnsCluster == nil ? "127.0.0.1" : HostAddressing.hub)
        try await receiver.start()
        webhook = receiver
        try await cluster.patchSettings(.object(["webhooks": .object(["url": .string(receiver.url)])]))
    }

    /// Starts the message stream, or changes its rate: the running stream stops first, and the
    /// next one's keys start with a new prefix so no Idempotency-Key is used twice.
    func startWorkload(_ w: Workload) async throws {
        guard scenario.register else { throw RunnerError("a workload needs a registered account; this scenario has register: false") }
        try await receiveWebhooks()
        await stopWorkload()
        streams += 1
        let s = MessageStream(history: history, keyPrefix: streams == 1 ? "s" : "w\(streams)s", shards: { [shardCount] in shardCount.value })
        stream = s
        workloadNow = w
        lastWorkload = w
        let c = cluster!
        let interval = Double(w.senders) / w.messagesPerSecond
        if workloadFrom == nil { workloadFrom = now() }
        workloadTo = nil
        streamTask = Task { await s.run(cluster: c, senders: w.senders, interval: interval) }
        note("step", String(format: "workload: %.0f messages/s from %d senders", w.messagesPerSecond, w.senders))
    }

    /// Stops the message stream and waits for its sends in flight.
    func stopWorkload() async {
        guard let s = stream, workloadNow != nil else { return }
        s.stop()
        await streamTask?.value
        workloadNow = nil
        workloadTo = now()
        note("step", "workload stopped")
    }

    /// Stops the workload, heals everything and lets the cluster drain, so the saved files hold
    /// the fate of every accepted message.
    func finishWorkload() async {
        guard let cluster else { return }
        await stopWorkload()
        // Heal everything first: a still-cut owner could not drain its shard.
        await healEverything(reason: "end of the timeline")
        if stream != nil {
            let db = await DeliveryAudit.drain(cluster, timeout: max(20, real(180) + 10))
            if let db, db["messages_pending"]?.intValue != 0 || db["callbacks_pending"]?.intValue != 0 {
                note("step", "drain timed out: \(db)")
            }
        } else {
            // Resumed nodes log what they lost while paused.
            try? await Polling.pause(seconds: real(2 * ClusterTimings.standard.tick) + 0.2)
        }
    }

    /// Writes `timeline.html` into the scenario's folder.
    func writeTimeline(_ run: RunRecord?) {
        guard let cluster else { return }
        let end = now()
        var rows = [HTMLTimeline.processRow(title: "db (\(cluster.layout.database.engine.scenarioName))",
                                            changes: lifecycle[ClusterNodeNames.database] ?? [], end: end)]
        rows += HTMLTimeline.rows(cluster: cluster, deaths: deaths, end: end)
        if let run { rows += HTMLTimeline.availability(run.sends, bucket: max(0.1, real(1))) }
        let markers = timeline.filter { $0.kind == "fault" || $0.kind == "version" || $0.kind == "handover" || ($0.kind == "step" && ($0.detail.hasPrefix("heal ") || $0.detail.hasPrefix("SIGCONT") || $0.detail.hasPrefix("set shards") || $0.detail.hasPrefix("started"))) }
            .map { (at: $0.ts, label: $0.detail, kind: $0.kind) }
        let page = HTMLTimeline(scenario: scenario.name, start: started, end: end, scale: scale)
            .html(rows: rows, markers: markers, run: run, checks: checks)
        try? page.write(toFile: "\(directory)/timeline.html", atomically: true, encoding: .utf8)
    }

    /// Saves what checkers need besides the node logs and the journal, reads the run back from
    /// its folder and judges it: the same code `wachaos recheck` runs.
    func judgeSavedRun() {
        guard let cluster else { return }
        try? webhook?.writeReceipts(to: "\(cluster.runDirectory)/\(RunRecord.webhookFile)")
        history?.close()
        let meta = runMeta()
        try? JSONCodec.prettyData(JSONCodec.encode(meta)).write(to: URL(fileURLWithPath: "\(cluster.runDirectory)/\(RunRecord.metaFile)"))
        var run: RunRecord?
        do {
            let saved = try RunRecord.load(directory: cluster.runDirectory)
            run = saved
            // Failover windows were judged step by step, live; recheck re-measures them.
            for c in Checker.judge(saved, with: Checker.standard.filter { $0.name != Checker.failoverWindows.name }) { record(c) }
        } catch {
            record(CheckResult(name: "saved run", line: nil, verdict: .fail, reason: "could not read the run back: \(error)"))
        }
        writeTimeline(run)
    }

    func runMeta() -> RunMeta {
        let settings = settingsNow
        let backoff = settings.passthrough["callback_backoff_delay_ms"].flatMap { if case .int(let ms) = $0 { Double(ms) / 1000 } else { nil } } ?? 3
        var meta = RunMeta(scenario: scenario.name, seed: seed, timeScale: scale, startedAt: started, endedAt: now(),
                       masters: cluster.layout.masterNames, coreapps: cluster.layout.coreappNames, shards: scenario.shards,
                       registered: scenario.register, heartbeatInterval: Double(settings.effectiveHeartbeatInterval),
                       unhealthyInterval: Double(settings.effectiveUnhealthyInterval), promotionAllowance: options.promotionAllowance,
                       slackReal: options.slackReal, callbackBackoff: backoff,
                       minSendsPerFault: (lastWorkload ?? scenario.workload)?.minSendsPerFault ?? Workload.defaultMinSendsPerFault,
                       workloadFrom: workloadFrom, workloadTo: workloadTo, deaths: deaths, failovers: failovers)
        meta.nodeEnvironment = options.nodeEnvironment.isEmpty ? nil : options.nodeEnvironment
        meta.engine = cluster.layout.database.engine.scenarioName
        meta.upgrades = upgrades.isEmpty ? nil : upgrades
        return meta
    }

    func teardown() async {
        for n in links?.notes ?? [] { note("net", n) }
        streamTask?.cancel()
        await webhook?.close()
        await links?.stop()
        await cluster?.stopAll(grace: 3)
        if let database { databases.release(database) }
        if let k = netnsCluster, let netns = options.netns {
            netns.fabric.removeHosts(cluster: k)
            netnsCluster = nil
        }
    }

    /// Process steps need a process: an external database (`--db-env`) is not the runner's.
    func ownedProcess(_ name: String) throws -> String {
        if cluster.nodes[name] == nil {
            throw RunnerError("\(name) is an external server (--db-env): the runner does not own its process, so it cannot kill, stop, pause or restart it; use network faults on its links")
        }
        return name
    }

    func lived(_ name: String, _ state: HTMLTimeline.ProcessState) { lifecycle[name, default: []].append((now(), state)) }

    // MARK: steps

    func resolve(_ target: NodeTarget) throws -> String {
        var snap = observer.snapshot()
        snap.labels = labels
        switch target.selector.resolve(in: snap, rng: &rng) {
        case .success(let name):
            if let l = target.label { labels[l] = name }
            return name
        case .failure(let e): throw RunnerError("\(e)")
        }
    }

    func resolve(_ s: NodeSelector) throws -> String { try resolve(NodeTarget(s)) }

    /// The nodes a link step acts on: one `from` node, or every webapp, master and coreapp
    /// (`all`) but the `to` node itself; `key` is what heals the fault, `label` how it reads.
    func linkEnds(_ link: LinkSelector) throws -> (from: [String], to: String, key: String, label: String) {
        let to = try resolve(link.to)
        guard link.from == .allNodes else {
            let from = try resolve(link.from)
            return ([from], to, Self.linkKey(from, to), from)
        }
        var snap = observer.snapshot()
        snap.labels = labels
        switch link.from.matches(in: snap) {
        case .success(let names):
            let from = names.filter { $0 != to }
            guard !from.isEmpty else { throw RunnerError("all -> \(to): no other webapp, master or coreapp to cut from \(to)") }
            return (from, to, Self.linkKey("all", to), "all (\(from.joined(separator: " ")))")
        case .failure(let e): throw RunnerError("\(e)")
        }
    }

    func execute(_ step: Step) async throws {
        switch step {
        case .waitHealthy(let timeout, _):
            note("step", "wait_healthy (timeout \(Int(timeout)) logical s)")
            let h = try await cluster.waitForHealth(timeout: max(15, real(timeout) + 5)) { self.isHealthy($0) }
            note("step", "healthy: \(h)")
        case .checkHealth(let golden, let within, let line):
            try await checkHealth(golden: golden, within: within, line: line)
        case .kill(let t, let line):
            let n = try ownedProcess(try resolve(t))
            inject("kill", "SIGKILL \(n) (\(t))", targets: [n], healedBy: "process:\(n)", line: line) {
                self.cluster.kill(n); self.deaths[n, default: []].append(self.now()); self.lived(n, .down)
            }
        case .stop(let t, let line):
            let n = try ownedProcess(try resolve(t))
            inject("stop", "SIGTERM \(n) (\(t))", targets: [n], healedBy: "process:\(n)", line: line) {
                self.cluster.terminate(n); self.deaths[n, default: []].append(self.now())
            }
            _ = await cluster.process(n)?.waitForExit(timeout: .seconds(10))
            lived(n, .down)
        case .restart(let t, let line):
            let n = try ownedProcess(try resolve(t))
            heal("process:\(n)", f: "restart", value: "restart \(n)", line: line)
            let id = inject("restart", "restart \(n) (same id, data and ports)", targets: [n], healedBy: "restart:\(n)", line: line) {
                self.deaths[n, default: []].append(self.now()); self.lived(n, .down)
            }
            try await cluster.restart(n)
            try await waitUntilServing(n)
            lived(n, .running)
            heal("restart:\(n)", f: "restarted", value: "\(n) running again", line: line, ids: [id])
        case .start(let t, let line):
            let n = try ownedProcess(try resolve(t))
            try cluster.start(n)
            try await waitUntilServing(n)
            lived(n, .running)
            heal("process:\(n)", f: "start", value: "start \(n)", line: line)
            note("step", "started \(n)")
        case .pause(let t, let line):
            let n = try ownedProcess(try resolve(t))
            inject("pause", "SIGSTOP \(n) (\(t))", targets: [n], healedBy: "pause:\(n)", line: line) {
                self.cluster.pause(n); self.lived(n, .paused)
            }
        case .resume(let t, let line):
            let n = try ownedProcess(try resolve(t)); cluster.resume(n); lived(n, .running)
            heal("pause:\(n)", f: "resume", value: "SIGCONT \(n)", line: line)
            note("step", "SIGCONT \(n)")
        case .partition(let link, let direction, let mode, let line):
            let ends = try linkEnds(link)
            for a in ends.from { try links.partition(a, ends.to, oneWay: direction == .oneWay, mode: mode) }
            inject("partition", "partition \(ends.label) \(direction == .oneWay ? "->" : "<->") \(ends.to)\(mode == .reject ? " (reject)" : "")",
                   targets: ends.from + [ends.to], healedBy: ends.key, line: line) {}
        case .packets(let link, let fault, let percent, let line):
            let ends = try linkEnds(link)
            for a in ends.from { try links.packets(a, ends.to, fault: fault, percent: percent) }
            inject(fault.rawValue, "\(fault.rawValue) \(percent)% of the packets \(ends.label) <-> \(ends.to)", targets: ends.from + [ends.to],
                   healedBy: ends.key, line: line) {}
        case .delay(let link, let ms, let jitter, let line):
            let ends = try linkEnds(link)
            let realMs = Int((Double(ms) * scale).rounded()), realJitter = Int((Double(jitter) * scale).rounded())
            for a in ends.from { try await links.delay(a, ends.to, milliseconds: realMs, jitterMilliseconds: realJitter) }
            inject("delay", "delay \(ends.label) <-> \(ends.to): \(ms)±\(jitter) logical ms (\(realMs)±\(realJitter) real ms) each way",
                   targets: ends.from + [ends.to], healedBy: ends.key, line: line) {}
        case .bandwidth(let link, let bps, let line):
            let ends = try linkEnds(link)
            for a in ends.from { try links.bandwidth(a, ends.to, bytesPerSecond: max(1, Int(Double(bps) / scale))) }
            inject("bandwidth", "bandwidth \(ends.label) <-> \(ends.to): \(bps) B per logical s", targets: ends.from + [ends.to],
                   healedBy: ends.key, line: line) {}
        case .reset(let link, let line):
            let ends = try linkEnds(link)
            for a in ends.from { try links.reset(a, ends.to) }
            inject("reset", "reset connections \(ends.label) <-> \(ends.to)", targets: ends.from + [ends.to], healedBy: ends.key, line: line) {}
        case .heal(let scope, let line):
            switch scope {
            case .all:
                await healEverything(reason: "heal all", line: line)
            case .link(let link):
                let ends = try linkEnds(link)
                for a in ends.from { try links.heal(a, ends.to) }
                heal(ends.key, f: "heal", value: "heal \(ends.label) <-> \(ends.to)", line: line)
                note("step", "heal \(ends.label) <-> \(ends.to)")
            }
        case .expectFailover(let shard, let bound, let line):
            try await expectFailover(shard: shard, bound: bound, line: line)
        case .expectNoFailover(let shard, let duration, let sinceFault, let line):
            try await expectNoFailover(shard: shard, duration: duration, sinceFault: sinceFault, line: line)
        case .expectRecovery(let within, let line):
            try await expectRecovery(within: within, line: line)
        case .dbLock(let seconds, let line):
            try await holdDatabaseLock(logicalSeconds: seconds, line: line)
        case .expectPrimaryMaster(let changes, let within, let line):
            try await expectPrimaryMaster(changes: changes, within: within, line: line)
        case .contacts(let on, let off, _):
            note("step", "contacts: \(on.count) on WhatsApp, \(off.count) not")
            var f = GatewayFrame(.admin)
            f.op = "set_contacts"; f.ids = on; f.absent = off
            let answer = try await GatewayAdmin.request(f, gateway: cluster.gatewayAddress, secret: cluster.clusterSecret, group: cluster.group, timeout: 5)
            guard answer.ok == true else { throw RunnerError("the WhatsApp server did not take the contacts: \(answer.reason ?? "no reason")") }
        case .setShards(let n, let line):
            note("step", "set shards \(shardsNow) -> \(n)")
            inject("set_shards", "set shards \(shardsNow) -> \(n)", targets: [], healedBy: "set_shards", line: line, allShards: true) {}
            try await cluster.setShards(n)
            shardCount.withLock { $0 = n }
        case .sleep(let s, _):
            note("step", "sleep \(s) logical s")
            try await ScaledSystemClock(scale: try TimeScale(scale)).sleep(logicalSeconds: s)
        case .run(let command, let line):
            try await runCommand(command, line: line)
        case .skew(let t, let by, let drift, let line):
            let n = try resolve(t)
            try skew(n, by: by, drift: drift, line: line)
        case .gateway(let fault, let line):
            try await gatewayFault(fault, line: line)
        case .nemesis(let plan, let line):
            try await nemesis(plan, line: line)
        case .upgrade(let plan, let line):
            try await upgrade(plan, line: line)
        case .handover(let shard, let to, let line):
            try await handoverStep(shard: shard, to: to, line: line)
        case .dbupgrade(let build, let line):
            try await dbupgradeOnly(build: build, line: line)
        case .workload(let w, _):
            if let w { try await startWorkload(w) } else { await stopWorkload() }
        case .settings(let s, _):
            note("step", "settings: \(ScenarioWriter.settings(s))")
            try await cluster.patchSettings(try JSONCodec.encode(s.applicationSettings))
            settingsNow = settingsNow.merging(s)
        }
    }

    /// Healthy: every running master and coreapp answers; before registration the primary
    /// says unregistered; after it, one primary master and every shard's owner connected.
    func isHealthy(_ h: HealthView) -> Bool {
        let running = Set(cluster.runningNames)
        let nodes = h.entries.filter { running.contains($0.key) }
        let expected = running.filter { cluster.nodes[$0]?.role == .master || cluster.nodes[$0]?.role == .coreapp }
        guard nodes.count == expected.count else { return false }
        if !scenario.register {
            return nodes.values.filter { $0.status == "unregistered" && $0.role == "primary_master" }.count == 1
        }
        guard nodes.values.allSatisfy({ $0.errorCode == nil }) else { return false }
        guard nodes.values.filter({ $0.role == "primary_master" }).count == 1 else { return false }
        let runningCoreapps = nodes.values.filter { $0.role == "coreapp" }.count
        let connected = nodes.values.filter { $0.role == "coreapp" && $0.status == "connected" }.count
        guard connected == min(shardsNow, runningCoreapps) else { return false }
        if shardsNow > 1 { return nodes.values.contains { $0.role == "primary_master" && $0.status == "connected" } }
        return true
    }

    // MARK: checks

    func checkHealth(golden: String, within: Double?, line: Int) async throws {
        let path = "\(options.fixturesDirectory)/health/\(golden)"
        if options.record {
            // Let the cluster settle on the state the timeline implies before recording.
            let h = try await settledHealth(seconds: within.map(real) ?? 0)
            try FileManager.default.createDirectory(atPath: "\(options.fixturesDirectory)/health", withIntermediateDirectories: true)
            var data = JSONCodec.prettyData(h.normalized()); data.append(0x0A)
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            record(CheckResult(name: "check_health \(golden)", line: line, verdict: .pass, reason: "golden recorded to \(path) (--record)"))
            return
        }
        guard let data = FileManager.default.contents(atPath: path), let expected = try? JSONValue.parse(data) else {
            record(CheckResult(name: "check_health \(golden)", line: line, verdict: .fail,
                               reason: "golden \(path) is missing or not JSON; run `wachaos run --record` to write it"))
            return
        }
        let deadline = now() + max(0.5, within.map(real) ?? 0.5)
        var last: JSONValue?
        repeat {
            if let h = try? await cluster.health(timeout: 3) {
                last = h.normalized()
                if last == expected {
                    record(CheckResult(name: "check_health \(golden)", line: line, verdict: .pass, reason: "health matches \(golden)"))
                    return
                }
            }
            try await Polling.pause(seconds: 0.05)
        } while now() < deadline
        let got = last.map { String(decoding: JSONCodec.prettyData($0), as: UTF8.self) } ?? "no answer"
        record(CheckResult(name: "check_health \(golden)", line: line, verdict: .fail,
                           reason: "health differs from \(golden); got: \(got.replacingOccurrences(of: "\n", with: " "))"))
    }

    /// Health after the answer has stayed the same for a short while.
    func settledHealth(seconds: Double) async throws -> HealthView {
        var last = try await cluster.health()
        var stableSince = now()
        let end = now() + max(seconds, 1.0)
        while now() < end || now() - stableSince < 0.5 {
            try await Polling.pause(seconds: 0.1)
            let h = try await cluster.health()
            if h.normalized() != last.normalized() { stableSince = now() }
            last = h
            if now() > end + 10 { break }
        }
        return last
    }

    func window(_ bound: FailoverBound) -> ClosedRange<Double> {
        bound.logicalWindow(settings: settingsNow, promotionAllowance: options.promotionAllowance)
    }

    /// The fault a failover of `shard` is measured from: the latest that took its owner away
    /// (the owner was a target), else the latest fault of all.
    func fault(affecting shard: Int) -> InjectedFault? {
        faultLog.last { f in f.owners[shard].map { f.targets.contains($0) } ?? false } ?? faultLog.last
    }

    func expectFailover(shard: Int, bound: FailoverBound, line: Int) async throws {
        let name = "expect_failover shard \(shard)"
        guard let fault = fault(affecting: shard) else {
            record(CheckResult(name: name, line: line, verdict: .unknown, reason: "no fault before this step")); return
        }
        guard let old = fault.owners[shard] else {
            record(CheckResult(name: name, line: line, verdict: .unknown, reason: "shard \(shard) had no owner when fault \(fault.id) (\(fault.kind)) was injected")); return
        }
        let w = window(bound)
        let expectation = FailoverExpectation(shard: shard, line: line, faultID: fault.id, faultAt: fault.ts, previousOwner: old,
                                              minimum: w.lowerBound, maximum: w.upperBound)
        failovers.append(expectation)
        let deadline = fault.ts + real(w.upperBound + slackLogical) + 2
        // Wait until a successor is connected for the shard (from terms and epochs, not the
        // latest line of each node), or the window has passed; then measure from the events.
        while now() < deadline {
            let view = ClusterView(events: cluster.allEvents(), deaths: deaths, scale: scale)
            if view.ownerships.contains(where: { $0.shard == shard && $0.node != old && $0.from >= fault.ts && $0.connectedAt != nil }) { break }
            try await Polling.pause(seconds: 0.05)
        }
        record(FailoverMeasure.measure(expectation, events: cluster.allEvents(), meta: runMeta()))
    }

    func expectNoFailover(shard: Int, duration: Double, sinceFault: Bool, line: Int) async throws {
        let name = "expect_no_failover shard \(shard)"
        let watchFrom = now()
        // With `since: fault` the owner is the one the latest fault found, and the watch starts then.
        let fault = sinceFault ? faultLog.last : nil
        let start = fault?.ts ?? watchFrom
        guard let owner = fault.map({ $0.owners[shard] }) ?? observer.owners()[shard] else {
            record(CheckResult(name: name, line: line, verdict: .unknown,
                               reason: "shard \(shard) has no owner at the start\(fault.map { " (fault \($0.id), \($0.kind))" } ?? "")")); return
        }
        note("step", "watching shard \(shard) (owner \(owner)) for \(Int(duration)) logical s" + (fault.map { ", held since fault \($0.id) (\($0.kind))" } ?? ""))
        var changed: String?
        if fault != nil {
            // Anything that happened between the fault and this step, from the nodes' own events.
            let view = ClusterView(events: cluster.allEvents(), deaths: deaths, scale: scale)
            changed = view.ownerships.first { $0.shard == shard && $0.node != owner && $0.from >= start }?.node
        }
        while changed == nil, now() < watchFrom + real(duration) {
            if let o = observer.owners()[shard], o != owner { changed = o; break }
            try await Polling.pause(seconds: 0.1)
        }
        let unhealthy = cluster.allEvents().first { $0.ts >= start && $0.event == "coreapp_unhealthy" && $0.fields["hostname"] == owner }
        if let changed {
            record(CheckResult(name: name, line: line, verdict: .fail, reason: "shard \(shard) moved from \(owner) to \(changed)"))
        } else if let unhealthy {
            record(CheckResult(name: name, line: line, verdict: .fail, reason: "\(owner) was declared unhealthy: \(unhealthy.fields["reason"] ?? "")"))
        } else {
            let held = (now() - start) / scale
            record(CheckResult(name: name, line: line, verdict: .pass,
                               reason: "\(owner) kept shard \(shard) for \(Int(held.rounded())) logical s\(fault.map { " (since fault \($0.id), \($0.kind))" } ?? "")",
                               figures: ["observed_logical": held]))
        }
    }

    func expectPrimaryMaster(changes: Bool, within: Double, line: Int) async throws {
        let name = "expect_primary_master changes=\(changes)"
        let last = faultLog.last
        let before = last?.primary ?? observer.primaryMaster()
        let from = last?.ts ?? now()
        let deadline = now() + real(within) + options.slackReal
        if changes {
            while now() < deadline {
                let view = observer.view()
                if let term = view.terms.first(where: { $0.master != before && $0.from >= from }) {
                    let took = term.from - from
                    // The API keeps serving: health answers through the webapp.
                    let served = (try? await cluster.health(timeout: 3)) != nil
                    record(CheckResult(name: name, line: line, verdict: served ? .pass : .fail,
                                       reason: String(format: "%@ won term %d from %@ after %.1f logical s (%.2fs real)%@", term.master, term.term, before ?? "none", took / scale, took,
                                                      served ? "; API serving" : "; API did not answer"),
                                       figures: ["takeover_real": took, "takeover_logical": took / scale]))
                    return
                }
                try await Polling.pause(seconds: 0.05)
            }
            record(CheckResult(name: name, line: line, verdict: .fail, reason: "no other master won a term within \(Int(within)) logical s"))
        } else {
            while now() < deadline {
                if let p = observer.primaryMaster(), p != before {
                    record(CheckResult(name: name, line: line, verdict: .fail, reason: "primary moved from \(before ?? "none") to \(p)")); return
                }
                try await Polling.pause(seconds: 0.1)
            }
            record(CheckResult(name: name, line: line, verdict: .pass, reason: "\(before ?? "none") stayed primary"))
        }
    }

    /// A `run:` step: the command under the supervisor like every child of the runner (the
    /// runner is a child subreaper that adopts and reaps children nobody owns, so a child
    /// started any other way could lose its exit status to it: a failing command then passed).
    func runCommand(_ command: String, line: Int) async throws {
        var env = ProcessInfo.processInfo.environment
        env["WACHAOS_RUN_DIR"] = directory
        env["WACHAOS_WEBAPP"] = cluster.webappAddress.description
        env["WACHAOS_TOKEN"] = cluster.token ?? ""
        env["WACHAOS_DB"] = cluster.dbPath
        env["WACHAOS_DB_ENGINE"] = cluster.databaseConfig.engine.rawValue
        env["WACHAOS_DB_ADDRESS"] = cluster.databaseConfig.address?.description ?? ""
        // What a client of the API needs to drive the cluster as a user would: the admin's
        // credentials, the number and its cert, and the gateway (to read a verification code
        // with `wacluster code`).
        env["WACHAOS_ADMIN_USER"] = "admin"
        env["WACHAOS_ADMIN_PASSWORD"] = LocalCluster.password
        env["WACHAOS_CC"] = LocalCluster.cc
        env["WACHAOS_PHONE_NUMBER"] = LocalCluster.phoneNumber
        env["WACHAOS_CERT"] = cluster.cert
        env["WACHAOS_GATEWAY"] = cluster.gatewayAddress.description
        env["WACHAOS_WACLUSTER"] = cluster.binary
        env[ClusterSecret.variable] = cluster.clusterSecretText
        let log = "\(directory)/run-line-\(line).log"
        let process = try supervisor.spawn(ProcessSpec(name: "run-line-\(line)", executable: "/bin/sh", arguments: ["-c", command],
                                                      environment: env, logFile: log))
        let status = await process.waitForExit() ?? .exited(-1)
        let text = (FileManager.default.contents(atPath: log).map { String(decoding: $0, as: UTF8.self) } ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        record(CheckResult(name: "run", line: line, verdict: status == .exited(0) ? .pass : .fail,
                           reason: "`\(command)` \(status == .exited(0) ? "exited 0" : "\(status)")\(text.isEmpty ? "" : ": \(text.suffix(300))")"))
    }

}
