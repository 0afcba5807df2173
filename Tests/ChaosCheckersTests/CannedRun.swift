import ChaosCheckers
import Foundation
import WACore

/// A small canned run, written to a temporary folder as the runner writes one and read back
/// with `RunRecord.load`, so checkers are tested over saved files.
struct CannedRun {
    var meta = RunMeta(scenario: "canned", seed: 1, timeScale: 0.1, startedAt: 1000, endedAt: 1060, masters: ["master1", "master2"],
                       coreapps: ["wacore1", "wacore2"], shards: 1, registered: true, heartbeatInterval: 5, unhealthyInterval: 30,
                       promotionAllowance: 10, slackReal: 1, callbackBackoff: 3, minSendsPerFault: 20, workloadFrom: 1001, workloadTo: 1050)
    var history: [HistoryOp] = []
    var journal: [[String: Any]] = []
    var webhook: [WebhookReceipt] = []
    var logs: [String: [[String: Any]]] = [:]

    /// `n` accepted sends on `shard` from `at`, one every `every` s, each arriving at the
    /// gateway 10 ms later and reported `sent` at the webhook 20 ms after that.
    mutating func sends(_ n: Int, shard: Int = 0, from at: Double, every: Double = 0.05, arrive: Bool = true, prefix: String = "m") {
        for i in 0..<n {
            let t = at + Double(i) * every
            let id = "\(prefix)\(Int(t * 1000))-\(i)"
            op("client-0", .invoke, t) { $0.shard = shard; $0.key = "k-\(id)" }
            op("client-0", .ok, t + 0.005) { $0.shard = shard; $0.key = "k-\(id)"; $0.id = id; $0.status = 201 }
            if arrive {
                journal.append(["event": "message", "id": id, "ts": t + 0.01, "session": 1, "shard": shard])
                webhook.append(WebhookReceipt(ts: t + 0.03, statuses: [.init(id: id, status: "sent")]))
            }
        }
    }

    mutating func failedSend(shard: Int, at t: Double, info: Bool = false) {
        op("client-1", .invoke, t) { $0.shard = shard }
        op("client-1", info ? .info : .fail, t + 0.01) { $0.shard = shard; $0.status = info ? nil : 503 }
    }

    mutating func fault(_ id: Int, _ kind: String, at t: Double, targets: [String], shards: [Int], healAt: Double? = nil) {
        op("nemesis", .invoke, t) { $0.faultID = id; $0.targets = targets; $0.value = "\(kind) \(targets)" }
        op("nemesis", .ok, t) { $0.faultID = id; $0.targets = targets; $0.shards = shards; $0.value = "\(kind) \(targets)" }
        history[history.count - 1].f = kind
        history[history.count - 2].f = kind
        if let healAt { op("nemesis", .ok, healAt) { $0.heals = [id] }; history[history.count - 1].f = "heal" }
    }

    mutating func op(_ process: String, _ type: HistoryOp.Kind, _ t: Double, _ fill: (inout HistoryOp) -> Void) {
        var o = HistoryOp(index: history.count, process: process, type: type, f: "send", ts: t, logical: t / meta.timeScale)
        fill(&o)
        history.append(o)
    }

    mutating func event(_ node: String, _ e: ClusterEvent, at t: Double) {
        var line: [String: Any] = ["ts": t, "logical": t / meta.timeScale, "node": node, "event": e.name, "msg": "", "level": "info"]
        for (k, v) in e.fields { line[k] = v }
        logs[node, default: []].append(line)
    }

    /// Writes the run folder and reads it back.
    func load() throws -> RunRecord {
        let dir = NSTemporaryDirectory() + "canned-\(UUID().uuidString)"
        let fm = FileManager.default
        try fm.createDirectory(atPath: dir + "/gateway", withIntermediateDirectories: true)
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        try enc.encode(meta).write(to: URL(fileURLWithPath: "\(dir)/run.json"))
        func lines<T>(_ items: [T], _ encode: (T) throws -> Data) rethrows -> Data {
            var d = Data(); for i in items { d.append(try encode(i)); d.append(0x0A) }; return d
        }
        try lines(history) { try enc.encode($0) }.write(to: URL(fileURLWithPath: "\(dir)/history.jsonl"))
        try lines(journal) { try JSONSerialization.data(withJSONObject: $0) }.write(to: URL(fileURLWithPath: "\(dir)/gateway/gateway.jsonl"))
        try lines(webhook) { try enc.encode($0) }.write(to: URL(fileURLWithPath: "\(dir)/webhook.jsonl"))
        for (node, events) in logs {
            try lines(events) { try JSONSerialization.data(withJSONObject: $0) }.write(to: URL(fileURLWithPath: "\(dir)/\(node).log"))
        }
        defer { try? fm.removeItem(atPath: dir) }
        return try RunRecord.load(directory: dir)
    }

    /// A healthy baseline: one primary, one owner connected, 100 sends, a gateway connection.
    static func healthy() -> CannedRun {
        var r = CannedRun()
        r.event("master1", .leaseAcquired(term: 1, validFor: 10), at: 1000.5)
        r.event("wacore1", .becameOwner(shard: 0, epoch: 1), at: 1000.6)
        r.event("wacore1", .gatewayConnected(shard: 0, epoch: 1), at: 1000.7)
        r.journal.append(["event": "connect", "node": "wacore1", "shard": 0, "epoch": 1, "session": 1, "ts": 1000.7])
        r.sends(100, from: 1001)
        return r
    }
}
