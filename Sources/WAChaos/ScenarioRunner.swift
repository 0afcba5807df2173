import ChaosScenario
import Foundation
import LinkProxy
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
    public var database: DBEngine?
    /// An existing PostgreSQL server's `db.env` (`--db-env`): scenarios get a database there.
    public var databaseEnvFile: String?
    public var progress: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    public init() {}
}

/// Runs one scenario against a fresh cluster of real processes and checks it.
final class ScenarioRunner: @unchecked Sendable {
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
    var shards: Int
    var lastFault: (ts: Double, owners: [Int: String], primary: String?, kind: String)?
    var cluster: LocalCluster!
    var mesh: LinkMesh!
    var observer: ClusterObserver { ClusterObserver(cluster: cluster) }
    var stepIndex = 0
    var stepLine: Int?
    var webhook: WebhookReceiver?
    var stream: MessageStream?
    var streamTask: Task<Void, Never>?

    let databases: DatabaseProvider
    var database: ClusterDatabase?
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
        self.shards = scenario.shards
        self.prefix = index
    }
    let prefix: String

    func now() -> Double { Date().timeIntervalSince1970 }
    func real(_ logical: Double) -> Double { logical * scale }
    var slackLogical: Double { options.slackReal / scale }

    func note(_ kind: String, _ detail: String) {
        timeline.append(TimelineEntry(ts: now(), scenario: scenario.name, step: stepIndex, line: stepLine, kind: kind, detail: detail))
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
            await auditWorkload()
            finalChecks()
            writeTimeline()
        } catch {
            let text = "\(error)"
            record(CheckResult(name: "scenario", line: stepLine, verdict: .fail,
                               reason: "\(text) (seed \(seed); rerun with --seed \(seed))"))
            stream?.stop()
            finalChecks()
            writeTimeline()
            failure = text
        }
        await teardown()
        let failed = checks.contains { $0.verdict == .fail }
        let unknown = checks.contains { $0.verdict == .unknown }
        return ScenarioReport(scenario: scenario.name, file: scenario.file, seed: seed, timeScale: scale,
                              verdict: failed ? .fail : (unknown ? .unknown : .pass), realSeconds: now() - started,
                              checks: checks, error: failure, runDirectory: directory)
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
        cluster = try LocalCluster(layout: layout, runDirectory: directory, binary: options.binary, supervisor: supervisor)
        mesh = LinkMesh(cluster: cluster, seed: seed)
        try await mesh.start()
        note("boot", "starting \(cluster.nodes.count) processes (db: \(engine.rawValue)\(cluster.hasDatabaseProcess ? "" : " on \(cluster.databaseConfig.address?.description ?? "?")"), scale \(scale), seed \(seed)) in \(directory)")
        let bootStart = now()
        try await cluster.startAll()
        for n in cluster.runningNames { lifecycle[n, default: []].append((bootStart, .running)) }
        try await cluster.login(timeout: 30)
        let patch = scenario.settings.applicationSettings
        if !patch.isEmpty {
            let json = try JSONValue.parse(try JSONEncoder().encode(patch))
            try await cluster.patchSettings(json)
        }
        if scenario.workload != nil {
            let receiver = WebhookReceiver()
            try await receiver.start()
            webhook = receiver
            try await cluster.patchSettings(.object(["webhooks": .object(["url": .string(receiver.url)])]))
        }
        if scenario.register {
            try await cluster.register()
            if scenario.shards > 1 { try await cluster.setShards(scenario.shards) }
        }
        if let w = scenario.workload {
            try await cluster.waitForHealth(timeout: 30) { self.isHealthy($0) }
            let s = MessageStream()
            stream = s
            let c = cluster!
            let interval = Double(w.senders) / w.messagesPerSecond
            streamTask = Task { await s.run(cluster: c, senders: w.senders, interval: interval) }
            note("boot", String(format: "workload: %.0f messages/s from %d senders", w.messagesPerSecond, w.senders))
        }
        note("boot", "cluster up: \(cluster.runningNames.joined(separator: " "))")
    }

    /// Stops the workload, lets the cluster drain, and proves where every accepted message went.
    func auditWorkload() async {
        guard let stream, let webhook, let cluster else { return }
        stream.stop()
        await streamTask?.value
        // Heal everything first: a still-cut owner could not drain its shard.
        mesh?.healAll()
        for n in cluster.layout.coreappNames + cluster.layout.masterNames { cluster.resume(n) }
        let db = await DeliveryAudit.drain(cluster, timeout: max(20, real(180) + 10))
        let audit = DeliveryAudit.run(cluster: cluster, acceptedIDs: stream.accepted.map(\.id), webhook: webhook)
        let refused = stream.refused.values.reduce(0, +)
        let figures: [String: Double] = ["accepted": Double(audit.accepted), "refused": Double(refused), "errors": Double(stream.errors),
                                         "gateway_arrivals": Double(audit.gatewayArrivals)]
        if audit.accepted == 0 {
            record(CheckResult(name: "no accepted message lost", line: nil, verdict: .unknown,
                               reason: "the workload got no message accepted (refused \(stream.refused), errors \(stream.errors))", figures: figures))
            return
        }
        record(CheckResult(name: "no accepted message lost", line: nil, verdict: audit.missing.isEmpty ? .pass : .fail,
                           reason: audit.missing.isEmpty ? "all \(audit.accepted) accepted messages reached the WhatsApp server (\(refused) refused with an error, \(stream.errors) without answer)"
                                                         : "\(audit.missing.count) accepted message(s) never reached the WhatsApp server, e.g. \(audit.missing.prefix(3)); pending after drain: \(db?.description ?? "?")",
                           figures: figures))
        record(CheckResult(name: "no duplicated message", line: nil, verdict: audit.duplicated.isEmpty ? .pass : .fail,
                           reason: audit.duplicated.isEmpty ? "every message reached the WhatsApp server once" : "duplicates: \(audit.duplicated.prefix(5))"))
        record(CheckResult(name: "statuses reach the webhook", line: nil, verdict: audit.withoutStatus.isEmpty ? .pass : .fail,
                           reason: audit.withoutStatus.isEmpty ? "every accepted message has a 'sent' status at the webhook (\(webhook.requestCount) POSTs)"
                                                               : "\(audit.withoutStatus.count) message(s) without a status at the webhook"))
    }

    /// Writes `timeline.html` into the scenario's folder.
    func writeTimeline() {
        guard let cluster else { return }
        let end = now()
        var rows = [HTMLTimeline.processRow(title: "db (\(cluster.layout.database.engine.scenarioName))",
                                            changes: lifecycle[LocalCluster.databaseNodeName] ?? [], end: end)]
        rows += HTMLTimeline.rows(cluster: cluster, deaths: deaths, end: end)
        if let stream { rows += HTMLTimeline.availability(stream.attempts, shards: max(shards, scenario.shards), bucket: max(0.1, real(1))) }
        let markers = timeline.filter { $0.kind == "fault" || ($0.kind == "step" && ($0.detail.hasPrefix("heal ") || $0.detail.hasPrefix("SIGCONT") || $0.detail.hasPrefix("set shards") || $0.detail.hasPrefix("started"))) }
            .map { (at: $0.ts, label: $0.detail, kind: $0.kind) }
        let page = HTMLTimeline(scenario: scenario.name, start: started, end: end, scale: scale).html(rows: rows, markers: markers)
        try? page.write(toFile: "\(directory)/timeline.html", atomically: true, encoding: .utf8)
    }

    func teardown() async {
        streamTask?.cancel()
        await webhook?.close()
        await mesh?.stop()
        await cluster?.stopAll(grace: 3)
        if let database { databases.release(database) }
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

    func markFault(_ kind: String) {
        lastFault = (now(), observer.owners(), observer.primaryMaster(), kind)
    }

    func execute(_ step: Step) async throws {
        switch step {
        case .waitHealthy(let timeout, _):
            note("step", "wait_healthy (timeout \(Int(timeout)) logical s)")
            let h = try await cluster.waitForHealth(timeout: max(15, real(timeout) + 5)) { self.isHealthy($0) }
            note("step", "healthy: \(h)")
        case .checkHealth(let golden, let within, let line):
            try await checkHealth(golden: golden, within: within, line: line)
        case .kill(let t, _):
            let n = try ownedProcess(try resolve(t)); markFault("kill"); cluster.kill(n); deaths[n, default: []].append(now()); lived(n, .down)
            note("fault", "SIGKILL \(n) (\(t))")
        case .stop(let t, _):
            let n = try ownedProcess(try resolve(t)); markFault("stop"); cluster.terminate(n); deaths[n, default: []].append(now())
            note("fault", "SIGTERM \(n) (\(t))")
            _ = await cluster.process(n)?.waitForExit(timeout: .seconds(10))
            lived(n, .down)
        case .restart(let t, _):
            let n = try ownedProcess(try resolve(t)); markFault("restart"); deaths[n, default: []].append(now()); lived(n, .down)
            try await cluster.restart(n)
            lived(n, .running)
            note("fault", "restarted \(n) (same id, data and ports)")
        case .start(let t, _):
            let n = try ownedProcess(try resolve(t))
            try cluster.start(n)
            lived(n, .running)
            note("step", "started \(n)")
        case .pause(let t, _):
            let n = try ownedProcess(try resolve(t)); markFault("pause"); cluster.pause(n); lived(n, .paused)
            note("fault", "SIGSTOP \(n) (\(t))")
        case .resume(let t, _):
            let n = try ownedProcess(try resolve(t)); cluster.resume(n); lived(n, .running)
            note("step", "SIGCONT \(n)")
        case .partition(let link, let direction, _):
            let (a, b) = (try resolve(link.from), try resolve(link.to))
            markFault("partition")
            try mesh.partition(a, b, oneWay: direction == .oneWay)
            note("fault", "partition \(a) \(direction == .oneWay ? "->" : "<->") \(b)")
        case .delay(let link, let ms, let jitter, _):
            let (a, b) = (try resolve(link.from), try resolve(link.to))
            markFault("delay")
            let realMs = Int((Double(ms) * scale).rounded()), realJitter = Int((Double(jitter) * scale).rounded())
            try mesh.apply(.delay(milliseconds: realMs, jitterMilliseconds: realJitter), a, b)
            note("fault", "delay \(a) <-> \(b): \(ms)±\(jitter) logical ms (\(realMs)±\(realJitter) real ms) each way")
        case .bandwidth(let link, let bps, _):
            let (a, b) = (try resolve(link.from), try resolve(link.to))
            markFault("bandwidth")
            try mesh.apply(.bandwidth(bytesPerSecond: max(1, Int(Double(bps) / scale))), a, b)
            note("fault", "bandwidth \(a) <-> \(b): \(bps) B per logical s")
        case .reset(let link, _):
            let (a, b) = (try resolve(link.from), try resolve(link.to))
            markFault("reset")
            try mesh.apply(.reset, a, b)
            note("fault", "reset connections \(a) <-> \(b)")
        case .heal(let scope, _):
            switch scope {
            case .all: mesh.healAll(); note("step", "heal all links")
            case .link(let link):
                let (a, b) = (try resolve(link.from), try resolve(link.to))
                mesh.heal(a, b); note("step", "heal \(a) <-> \(b)")
            }
        case .expectFailover(let shard, let bound, let line):
            try await expectFailover(shard: shard, bound: bound, line: line)
        case .expectNoFailover(let shard, let duration, let line):
            try await expectNoFailover(shard: shard, duration: duration, line: line)
        case .expectPrimaryMaster(let changes, let within, let line):
            try await expectPrimaryMaster(changes: changes, within: within, line: line)
        case .setShards(let n, _):
            note("step", "set shards \(shards) -> \(n)")
            try await cluster.setShards(n)
            shards = n
        case .sleep(let s, _):
            note("step", "sleep \(s) logical s")
            try await ScaledSystemClock(scale: try TimeScale(scale)).sleep(logicalSeconds: s)
        case .run(let command, let line):
            try await runCommand(command, line: line)
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
        guard connected == min(shards, runningCoreapps) else { return false }
        if shards > 1 { return nodes.values.contains { $0.role == "primary_master" && $0.status == "connected" } }
        return true
    }

    // MARK: checks

    func checkHealth(golden: String, within: Double?, line: Int) async throws {
        let path = "\(options.fixturesDirectory)/health/\(golden)"
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        if options.record {
            // Let the cluster settle on the state the timeline implies before recording.
            let h = try await settledHealth(seconds: within.map(real) ?? 0)
            try FileManager.default.createDirectory(atPath: "\(options.fixturesDirectory)/health", withIntermediateDirectories: true)
            var data = try enc.encode(h.normalized()); data.append(0x0A)
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
        let got = last.flatMap { try? String(decoding: enc.encode($0), as: UTF8.self) } ?? "no answer"
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
        bound.logicalWindow(settings: scenario.settings, promotionAllowance: options.promotionAllowance,
                            dbCheckPeriod: ClusterTimings.standard.dbCheckPeriod)
    }

    func expectFailover(shard: Int, bound: FailoverBound, line: Int) async throws {
        let name = "expect_failover shard \(shard)"
        guard let fault = lastFault else {
            record(CheckResult(name: name, line: line, verdict: .unknown, reason: "no fault before this step")); return
        }
        guard let old = fault.owners[shard] else {
            record(CheckResult(name: name, line: line, verdict: .unknown, reason: "shard \(shard) had no owner when the fault was injected")); return
        }
        let w = window(bound)
        let lo = w.lowerBound - slackLogical, hi = w.upperBound + slackLogical
        let boundsText = String(format: "%.1f...%.1f logical s (window %.0f...%.0f ± %.1fs real slack)", lo, hi, w.lowerBound, w.upperBound, options.slackReal)
        let watchingFrom = now()
        let deadline = fault.ts + real(hi) + 2
        var probe: Double?
        var newOwner: String?
        while now() < deadline {
            if let candidate = observer.owners()[shard], candidate != old,
               let h = try? await cluster.health(timeout: 2), h[candidate]?.status == "connected" {
                probe = now(); newOwner = candidate; break
            }
            try await Polling.pause(seconds: 0.05)
        }
        let events = cluster.allEvents()
        let detection = events.first { e in
            e.ts >= fault.ts && ((e.event == "coreapp_unhealthy" && e.fields["hostname"] == old && e.fields["shard"] == "\(shard)")
                || (e.event == "shard_released" && e.node == old))
        }
        guard let newOwner, let probe else {
            record(CheckResult(name: name, line: line, verdict: .fail,
                               reason: "shard \(shard) (was \(old)) had no new connected owner within \(String(format: "%.1f", hi)) logical s"
                                   + (detection == nil ? "; no master declared \(old) unhealthy" : "; detected but not recovered"),
                               bounds: boundsText))
            return
        }
        let connected = events.first { $0.ts >= fault.ts && $0.event == "gateway_connected" && $0.node == newOwner && $0.fields["shard"] == "\(shard)" }
        // Recovery as the client saw it; if the runner started watching late, the event time.
        let recoveryReal = watchingFrom <= fault.ts + real(w.lowerBound) ? probe - fault.ts : ((connected?.ts ?? probe) - fault.ts)
        var figures: [String: Double] = ["recovery_real": recoveryReal, "recovery_logical": recoveryReal / scale]
        var problems: [String] = []
        if let d = detection {
            figures["detection_real"] = d.ts - fault.ts
            figures["detection_logical"] = (d.ts - fault.ts) / scale
            if !(lo...hi).contains((d.ts - fault.ts) / scale) { problems.append(String(format: "detection %.1f logical s is outside the bounds", (d.ts - fault.ts) / scale)) }
        }
        if !(lo...hi).contains(recoveryReal / scale) { problems.append(String(format: "recovery %.1f logical s is outside the bounds", recoveryReal / scale)) }
        let path = detection?.fields["path"] ?? (detection?.event == "shard_released" ? "release" : "?")
        let summary = String(format: "%@ -> %@ via %@: detection %@, recovery %.1f logical s (%.2fs real)", old, newOwner, path,
                             figures["detection_logical"].map { String(format: "%.1f logical s", $0) } ?? "not logged", recoveryReal / scale, recoveryReal)
        if !problems.isEmpty {
            record(CheckResult(name: name, line: line, verdict: .fail, reason: summary + "; " + problems.joined(separator: "; "), figures: figures, bounds: boundsText))
        } else if detection == nil {
            record(CheckResult(name: name, line: line, verdict: .unknown, reason: summary + "; no detection event found", figures: figures, bounds: boundsText))
        } else {
            record(CheckResult(name: name, line: line, verdict: .pass, reason: summary, figures: figures, bounds: boundsText))
        }
    }

    func expectNoFailover(shard: Int, duration: Double, line: Int) async throws {
        let name = "expect_no_failover shard \(shard)"
        let start = now()
        guard let owner = observer.owners()[shard] else {
            record(CheckResult(name: name, line: line, verdict: .unknown, reason: "shard \(shard) has no owner at the start")); return
        }
        note("step", "watching shard \(shard) (owner \(owner)) for \(Int(duration)) logical s")
        var changed: String?
        while now() < start + real(duration) {
            if let o = observer.owners()[shard], o != owner { changed = o; break }
            try await Polling.pause(seconds: 0.1)
        }
        let unhealthy = cluster.allEvents().first { $0.ts >= start && $0.event == "coreapp_unhealthy" && $0.fields["hostname"] == owner }
        if let changed {
            record(CheckResult(name: name, line: line, verdict: .fail, reason: "shard \(shard) moved from \(owner) to \(changed)"))
        } else if let unhealthy {
            record(CheckResult(name: name, line: line, verdict: .fail, reason: "\(owner) was declared unhealthy: \(unhealthy.fields["reason"] ?? "")"))
        } else {
            record(CheckResult(name: name, line: line, verdict: .pass, reason: "\(owner) kept shard \(shard) for \(Int(duration)) logical s",
                               figures: ["observed_logical": duration]))
        }
    }

    func expectPrimaryMaster(changes: Bool, within: Double, line: Int) async throws {
        let name = "expect_primary_master changes=\(changes)"
        let before = lastFault?.primary ?? observer.primaryMaster()
        let from = lastFault?.ts ?? now()
        let deadline = now() + real(within) + options.slackReal
        if changes {
            while now() < deadline {
                if let p = observer.primaryMaster(), p != before {
                    let won = cluster.events(p).last { $0.event == "lease_acquired" }
                    let took = ((won?.ts ?? now()) - from)
                    // The API keeps serving: health answers through the webapp.
                    let served = (try? await cluster.health(timeout: 3)) != nil
                    record(CheckResult(name: name, line: line, verdict: served ? .pass : .fail,
                                       reason: String(format: "%@ took the lease from %@ after %.1f logical s (%.2fs real)%@", p, before ?? "none", took / scale, took,
                                                      served ? "; API serving" : "; API did not answer"),
                                       figures: ["takeover_real": took, "takeover_logical": took / scale]))
                    return
                }
                try await Polling.pause(seconds: 0.05)
            }
            record(CheckResult(name: name, line: line, verdict: .fail, reason: "no other master took the lease within \(Int(within)) logical s"))
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

    func runCommand(_ command: String, line: Int) async throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        var env = ProcessInfo.processInfo.environment
        env["WACHAOS_RUN_DIR"] = directory
        env["WACHAOS_WEBAPP"] = cluster.webappAddress.description
        env["WACHAOS_TOKEN"] = cluster.token ?? ""
        env["WACHAOS_DB"] = cluster.dbPath
        env["WACHAOS_DB_ENGINE"] = cluster.databaseConfig.engine.rawValue
        env["WACHAOS_DB_ADDRESS"] = cluster.databaseConfig.address?.description ?? ""
        p.environment = env
        let out = Pipe()
        p.standardOutput = out; p.standardError = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        record(CheckResult(name: "run", line: line, verdict: p.terminationStatus == 0 ? .pass : .fail,
                           reason: "`\(command)` exited \(p.terminationStatus)\(text.isEmpty ? "" : ": \(text.suffix(300))")"))
    }

    /// Checks over the whole run: one primary master at a time, no gateway conflict.
    func finalChecks() {
        guard let cluster else { return }
        let end = now()
        let intervals = observer.primaryIntervals(deaths: deaths, end: end, scale: scale).sorted { $0.from < $1.from }
        var overlaps: [String] = []
        for (i, a) in intervals.enumerated() {
            for b in intervals[(i + 1)...] where b.master != a.master && b.from < a.to - 0.001 {
                overlaps.append(String(format: "%@ and %@ both primary for %.3fs", a.master, b.master, min(a.to, b.to) - b.from))
            }
        }
        record(CheckResult(name: "single primary master", line: nil, verdict: overlaps.isEmpty ? .pass : .fail,
                           reason: overlaps.isEmpty ? "\(intervals.count) primary term(s), never two at once" : overlaps.joined(separator: "; "),
                           figures: ["primary_terms": Double(intervals.count)]))
        let journal = cluster.gatewayJournal()
        let conflicts = journal.filter { $0["event"]?.stringValue == "conflict" }
        if journal.isEmpty && scenario.register {
            record(CheckResult(name: "no gateway conflict", line: nil, verdict: .unknown,
                               reason: "the gateway journal is missing or empty, so conflicts cannot be ruled out"))
            return
        }
        record(CheckResult(name: "no gateway conflict", line: nil, verdict: conflicts.isEmpty ? .pass : .fail,
                           reason: conflicts.isEmpty ? "\(journal.filter { $0["event"]?.stringValue == "connect" }.count) gateway connections, no conflict"
                                                     : "conflicts: " + conflicts.map(\.description).joined(separator: "; "),
                           figures: ["conflicts": Double(conflicts.count)]))
    }
}
