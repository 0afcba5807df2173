import ChaosCheckers
import ChaosScenario
import Foundation
import WACore
import WATestKit
import WAWire

/// A fault the runner injected: when, on what, and what the runner saw then (owners, primary),
/// so a later `expect_failover: {shard: N}` measures from the fault that took N's owner away.
struct InjectedFault {
    var id: Int
    var kind: String
    var detail: String = ""
    var ts: Double
    var targets: [String]
    var owners: [Int: String]
    var primary: String?
    /// What heals it: `process:X`, `pause:X`, `link:A|B`, `skew:X`, `gateway`, `set_shards`.
    var healedBy: String
}

extension ScenarioRunner {
    static func linkKey(_ a: String, _ b: String) -> String { "link:" + [a, b].sorted().joined(separator: "|") }

    func clockControlFile(_ node: String) -> String { "\(cluster.runDirectory)/\(node).clock.json" }

    /// Applies a fault and records it in the history as a nemesis operation, with the shards
    /// whose owners it touches (every shard when it hits the database, a webapp or the shard map).
    @discardableResult
    func inject(_ kind: String, _ detail: String, targets: [String], healedBy: String, line: Int,
                allShards: Bool = false, apply: () -> Void) -> Int {
        let (owners, primary) = observer.state()
        let id = faultLog.count + 1
        let roles = targets.compactMap { cluster.nodes[$0]?.role }
        let everyShard = allShards || roles.contains(.db) || roles.contains(.webapp)
            || (targets.contains(ClusterNodeNames.database) && cluster.nodes[ClusterNodeNames.database] == nil)
        let touched = everyShard ? [-1] : owners.filter { targets.contains($0.value) }.map(\.key).sorted()
        history.record(HistoryOp.nemesis, .invoke, kind) { $0.value = detail; $0.targets = targets; $0.faultID = id; $0.line = line }
        apply()
        history.record(HistoryOp.nemesis, .ok, kind) { $0.value = detail; $0.targets = targets; $0.shards = touched; $0.faultID = id; $0.line = line }
        let fault = InjectedFault(id: id, kind: kind, detail: detail, ts: now(), targets: targets, owners: owners, primary: primary, healedBy: healedBy)
        faultLog.append(fault)
        activeFaults[id] = fault
        note("fault", detail)
        return id
    }

    /// Records a heal of every active fault `key` names (or exactly `ids`).
    func heal(_ key: String, f: String, value: String, line: Int?, ids: [Int]? = nil) {
        let healed = ids ?? activeFaults.values.filter { $0.healedBy == key }.map(\.id).sorted()
        guard !healed.isEmpty else { return }
        if healed.contains(where: { activeFaults[$0]?.targets.contains(ClusterNodeNames.database) == true }) { databaseBackAt = now() }
        for id in healed { activeFaults[id] = nil }
        history.record(HistoryOp.nemesis, .ok, f) { $0.value = value; $0.heals = healed; $0.line = line }
    }

    /// Ends every fault: links healed, paused nodes resumed, skews and gateway misbehaviour undone.
    func healEverything(reason: String, line: Int? = nil) async {
        guard let cluster else { return }
        do { try links?.healAll() } catch { note("error", "healing the links failed: \(error)") }
        for n in cluster.layout.coreappNames + cluster.layout.masterNames + cluster.layout.webappNames where cluster.process(n)?.isAlive == true {
            cluster.resume(n)
        }
        await bringDatabaseBack(startIfDown: reason == "end of the timeline", line: line)
        for n in cluster.layout.webappNames + cluster.layout.masterNames + cluster.layout.coreappNames
        where FileManager.default.fileExists(atPath: clockControlFile(n)) {
            try? ClockSkew.none.write(toControlFile: clockControlFile(n))
        }
        if activeFaults.values.contains(where: { $0.healedBy == "gateway" }) {
            _ = try? await GatewayAdmin.request(GatewayFault.heal.adminFrame, gateway: cluster.gatewayAddress, secret: cluster.clusterSecret, group: cluster.group, timeout: 3)
        }
        let healable = activeFaults.values.filter { $0.healedBy.hasPrefix("link:") || $0.healedBy.hasPrefix("pause:") || $0.healedBy.hasPrefix("skew:") || $0.healedBy == "gateway" }
        for f in healable where f.healedBy.hasPrefix("pause:") { lived(String(f.healedBy.dropFirst(6)), .running) }
        if !healable.isEmpty {
            heal("", f: "heal", value: reason, line: line, ids: healable.map(\.id).sorted())
        }
        note("step", reason == "heal all" ? "heal all links, resume paused nodes and the db, undo skews and gateway faults" : "\(reason): healed everything")
    }

    /// Steps and drifts one node's injected clock through its runner-only control file.
    func skew(_ node: String, by ms: Int, drift: Int, line: Int) throws {
        guard let role = cluster.nodes[node]?.role, [.webapp, .master, .coreapp].contains(role) else {
            throw RunnerError("skew: \(node) keeps the reference time (leases are judged on the database's clock); skew a webapp, master or coreapp")
        }
        try ClockSkew(offsetMilliseconds: Double(ms), driftPPM: Double(drift)).write(toControlFile: clockControlFile(node))
        if ms == 0 && drift == 0 {
            heal("skew:\(node)", f: "skew", value: "\(node) clock back to true time", line: line)
            note("step", "skew \(node) healed")
        } else {
            heal("skew:\(node)", f: "skew", value: "\(node) re-skewed", line: line)
            inject("skew", "skew \(node) by \(ms) logical ms, drift \(drift) ppm", targets: [node], healedBy: "skew:\(node)", line: line) {}
        }
    }

    /// Asks the simulated WhatsApp server to misbehave (or heal).
    func gatewayFault(_ fault: GatewayFault, line: Int) async throws {
        let answer = try await GatewayAdmin.request(fault.adminFrame, gateway: cluster.gatewayAddress, secret: cluster.clusterSecret, group: cluster.group, timeout: 5)
        guard answer.ok == true else { throw RunnerError("the gateway refused the fault \(fault): \(answer.reason ?? "no reason")") }
        if case .heal = fault {
            heal("gateway", f: "gateway", value: "gateway heal", line: line)
            note("step", "gateway heal")
            return
        }
        // A fault limited to one shard touches that shard's owner; any other touches every shard.
        let owner = fault.shard.flatMap { observer.state().owners[$0] }
        let id = inject("gateway", "gateway \(fault)", targets: [ClusterNodeNames.gateway] + (owner.map { [$0] } ?? []), healedBy: "gateway", line: line,
                        allShards: fault.shard == nil) {}
        if case .dropSession = fault { heal("gateway", f: "gateway", value: "sessions dropped (one-shot)", line: line, ids: [id]) }
    }

    /// Draws the nemesis schedule and runs it step by step. Role-based targets are resolved as
    /// each fault goes in, and its heal acts on the same node; the steps as run, with node
    /// names, are written as a plain scenario (`schedule.yml`) after every step.
    func nemesis(_ plan: NemesisPlan, line: Int) async throws {
        let steps = NemesisScheduler.schedule(plan, topology: scenario.topology, shards: shardsNow, seed: seed, line: line)
        let faults = steps.filter { $0.isFault }.count
        let path = "\(cluster.runDirectory)/schedule.yml"
        note("step", "nemesis: \(faults) fault step(s) over \(Int(plan.duration)) logical s from seed \(plan.seed ?? seed); schedule in \(path)")
        var bound: [NodeSelector: String] = [:]
        var ran: [Step] = []
        func write() throws {
            var replay = scenario
            replay.seed = seed
            replay.timeScale = scale
            var done = false
            replay.steps = scenario.steps.flatMap { s -> [Step] in
                if !done, case .nemesis(let p, let l) = s, p == plan, l == line { done = true; return ran }
                return [s]
            }
            try ScenarioWriter.yaml(replay, comment: "The schedule the nemesis of \(scenario.file):\(line) drew from seed \(plan.seed ?? seed) and ran, node names as resolved.\nReplay it step for step: wachaos run \(path)")
                .write(toFile: path, atomically: true, encoding: .utf8)
        }
        try write()
        var previous: Step?
        for step in steps {
            // A cut from every master is several partition steps in a row: one node for all.
            var sameNode = false
            if case .partition(let k, _, _, _) = step, case .partition(let p, _, _, _)? = previous { sameNode = k.from == p.from }
            previous = step
            let concrete = try concretize(step, bound: &bound, sameNodeAsBefore: sameNode)
            ran.append(concrete)
            try write()
            try await execute(concrete)
        }
    }

    /// The step with role-based selectors replaced by the node they name now; a heal names the
    /// node its fault resolved to.
    func concretize(_ step: Step, bound: inout [NodeSelector: String], sameNodeAsBefore: Bool = false) throws -> Step {
        func name(_ s: NodeSelector, healing: Bool) throws -> NodeSelector {
            guard s.isRoleBased else { return s }
            if healing, let n = bound[s] { return .name(n) }
            let n = try resolve(s)
            bound[s] = n
            return .name(n)
        }
        func link(_ l: LinkSelector, healing: Bool) throws -> LinkSelector {
            LinkSelector(from: try name(l.from, healing: healing), to: try name(l.to, healing: healing))
        }
        switch step {
        case .kill(let t, let l): return .kill(NodeTarget(try name(t.selector, healing: false)), line: l)
        case .pause(let t, let l): return .pause(NodeTarget(try name(t.selector, healing: false)), line: l)
        case .restart(let t, let l): return .restart(NodeTarget(try name(t.selector, healing: false)), line: l)
        case .start(let t, let l): return .start(NodeTarget(try name(t.selector, healing: true)), line: l)
        case .resume(let t, let l): return .resume(NodeTarget(try name(t.selector, healing: true)), line: l)
        case .skew(let t, let by, let drift, let l):
            return .skew(NodeTarget(try name(t.selector, healing: by == 0 && drift == 0)), byMs: by, driftPPM: drift, line: l)
        case .partition(let k, let d, let m, let l): return .partition(try link(k, healing: sameNodeAsBefore), direction: d, mode: m, line: l)
        case .packets(let k, let f, let p, let l): return .packets(try link(k, healing: false), fault: f, percent: p, line: l)
        case .delay(let k, let ms, let j, let l): return .delay(try link(k, healing: false), ms: ms, jitterMs: j, line: l)
        case .heal(.link(let k), let l): return .heal(.link(try link(k, healing: true)), line: l)
        default: return step
        }
    }
}
