import Foundation
import WACore

/// Writes a scenario back as a file the loader reads to the same `Scenario` (up to lines and
/// comments): how the runner saves the schedule a nemesis drew, and `shrink` its result.
public enum ScenarioWriter {
    public static func yaml(_ s: Scenario, comment: String? = nil) -> String {
        var out = ""
        if let comment { out += comment.split(separator: "\n", omittingEmptySubsequences: false).map { "# \($0)" }.joined(separator: "\n") + "\n" }
        out += "name: \(s.name)\n"
        if !s.description.isEmpty { out += "description: \(quote(s.description))\n" }
        if let t = s.timeScale { out += "time_scale: \(number(t))\n" }
        if let seed = s.seed { out += "seed: \(seed)\n" }
        let t = s.topology
        var topology = "db: \(t.db.scenarioName), webapps: \(t.webapps), masters: \(t.masters), coreapps: \(t.coreapps), standby_coreapps: \(t.standbyCoreapps)"
        if !t.builds.isEmpty { topology += ", builds: {" + t.builds.sorted { $0.key < $1.key }.map { "\($0.key): \(quote($0.value))" }.joined(separator: ", ") + "}" }
        if let b = t.build { topology += ", build: \(b)" }
        if let n = t.net { topology += ", net: \(n.rawValue)" }
        if !t.nodeBuilds.isEmpty { topology += ", node_builds: {" + t.nodeBuilds.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + "}" }
        out += "topology: {\(topology)}\n"
        if !s.settings.isEmpty { out += "settings: \(settings(s.settings))\n" }
        if !s.register { out += "register: false\n" }
        if s.shards != 1 { out += "shards: \(s.shards)\n" }
        if let w = s.workload { out += "workload: \(workload(w))\n" }
        out += "steps:\n"
        for step in s.steps { out += "  - \(self.step(step))\n" }
        return out
    }

    /// One step as a one-line flow mapping.
    public static func step(_ step: Step) -> String {
        switch step {
        case .waitHealthy(let timeout, _): return "wait_healthy: {timeout: \(number(timeout))}"
        case .checkHealth(let golden, let within, _):
            return "check_health: {golden: \(quote(golden))\(within.map { ", within: \(number($0))" } ?? "")}"
        case .kill(let t, _): return "kill: \(target(t))"
        case .stop(let t, _): return "stop: \(target(t))"
        case .restart(let t, _): return "restart: \(target(t))"
        case .start(let t, _): return "start: \(target(t))"
        case .pause(let t, _): return "pause: \(target(t))"
        case .resume(let t, _): return "resume: \(target(t))"
        case .partition(let l, let d, let m, _): return "partition: {\(link(l))\(d == .oneWay ? ", direction: one_way" : "")\(m == .reject ? ", mode: reject" : "")}"
        case .packets(let l, let f, let p, _): return "\(f.rawValue): {\(link(l)), percent: \(p)}"
        case .delay(let l, let ms, let jitter, _): return "delay: {\(link(l)), ms: \(ms)\(jitter > 0 ? ", jitter_ms: \(jitter)" : "")}"
        case .bandwidth(let l, let bps, _): return "bandwidth: {\(link(l)), bytes_per_second: \(bps)}"
        case .reset(let l, _): return "reset: {\(link(l))}"
        case .heal(.all, _): return "heal: all"
        case .heal(.link(let l), _): return "heal: {\(link(l))}"
        case .expectFailover(let shard, let bound, _):
            let b: String = switch bound {
            case .heartbeat: "heartbeat"
            case .db: "db"
            case .range(let lo, let hi): "{min: \(number(lo)), max: \(number(hi))}"
            }
            return "expect_failover: {shard: \(shard), bound: \(b)}"
        case .expectNoFailover(let shard, let d, let since, _):
            return "expect_no_failover: {shard: \(shard), for: \(number(d))\(since ? ", since: fault" : "")}"
        case .expectRecovery(let within, _): return "expect_recovery: {\(within.map { "within: \(number($0))" } ?? "")}"
        case .dbLock(let seconds, _): return "db_lock: {for: \(number(seconds))}"
        case .expectPrimaryMaster(let changes, let within, _): return "expect_primary_master: {changes: \(changes), within: \(number(within))}"
        case .contacts(let on, let off, _):
            func list(_ xs: [String]) -> String { "[" + xs.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
            return "contacts: {on_whatsapp: \(list(on)), not_on_whatsapp: \(list(off))}"
        case .setShards(let n, _): return "set_shards: \(n)"
        case .upgrade(let u, _):
            var parts = ["to: \(u.to)", "strategy: \(u.strategy.rawValue)"]
            if let seed = u.seed { parts.append("seed: \(seed)") }
            if let b = u.maxUnavailable { parts.append("max_unavailable: \(number(b))") }
            if u.failDBUpgrade { parts.append("fail_dbupgrade: true") }
            return "upgrade: {\(parts.joined(separator: ", "))}"
        case .dbupgrade(let build, _): return "dbupgrade: \(build)"
        case .handover(let shard, let to, _): return "handover: {shard: \(shard)\(to.map { ", to: \(quote($0.description))" } ?? "")}"
        case .sleep(let s, _): return "sleep: \(number(s))"
        case .workload(let w, _): return "workload: \(w.map(workload) ?? "stop")"
        case .settings(let s, _): return "settings: \(settings(s))"
        case .run(let command, _): return "run: \(quote(command))"
        case .skew(let t, let by, let drift, _): return "skew: {node: \(quote(t.selector.description)), by: \(by)\(drift != 0 ? ", drift_ppm: \(drift)" : "")}"
        case .gateway(let fault, _):
            switch fault {
            case .delayAcks(let ms): return "gateway: {fault: delay_acks, ms: \(ms)}"
            case .delayStatuses(let ms): return "gateway: {fault: delay_statuses, ms: \(ms)}"
            case .dropAcks(let s): return "gateway: {fault: drop_acks\(s.map { ", shard: \($0)" } ?? "")}"
            case .dropSession(let s): return "gateway: {fault: drop_session\(s.map { ", shard: \($0)" } ?? "")}"
            case .ban(let seconds): return "gateway: {fault: ban, seconds: \(Int(seconds))}"
            case .refuseConnections: return "gateway: {fault: refuse_connections}"
            case .heal: return "gateway: {fault: heal}"
            }
        case .nemesis(let p, _):
            var parts = ["faults: [\(p.faults.map(\.rawValue).joined(separator: ", "))]", "interval: \(number(p.interval))", "duration: \(number(p.duration))"]
            if let h = p.hold { parts.append("hold: \(number(h))") }
            parts.append("targets: \(p.targets.rawValue)")
            if p.concurrent != 1 { parts.append("concurrent: \(p.concurrent)") }
            if let seed = p.seed { parts.append("seed: \(seed)") }
            return "nemesis: {\(parts.joined(separator: ", "))}"
        }
    }

    public static func settings(_ s: SettingsOverrides) -> String {
        "{" + s.applicationSettings.sorted { $0.key < $1.key }.map { "\($0.key): \(value($0.value))" }.joined(separator: ", ") + "}"
    }

    public static func workload(_ w: Workload) -> String {
        "{messages_per_second: \(number(w.messagesPerSecond)), senders: \(w.senders), min_sends_per_fault: \(w.minSendsPerFault)}"
    }

    static func target(_ t: NodeTarget) -> String {
        guard let label = t.label else { return quote(t.selector.description) }
        return "{node: \(quote(t.selector.description)), as: \(label)}"
    }
    static func link(_ l: LinkSelector) -> String { "from: \(quote(l.from.description)), to: \(quote(l.to.description))" }

    static func number(_ d: Double) -> String {
        d.rounded() == d && abs(d) < 1e12 ? String(Int(d)) : String(format: "%.3f", d).replacingOccurrences(of: #"0+$"#, with: "", options: .regularExpression)
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for ch in s.unicodeScalars {
            switch ch {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out + "\""
    }

    static func value(_ v: ScenarioValue) -> String {
        switch v {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d): return number(d)
        case .string(let s): return quote(s)
        case .list(let l): return "[" + l.map(value).joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.sorted { $0.key < $1.key }.map { "\($0.key): \(value($0.value))" }.joined(separator: ", ") + "}"
        }
    }
}
