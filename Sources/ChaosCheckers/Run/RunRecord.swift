import Foundation
import WACore

/// What a checker needs to know about a run besides its files: the scenario's intervals and
/// thresholds, and the runner's own record of process deaths. Saved as `run.json`.
public struct RunMeta: Codable, Equatable, Sendable {
    public var scenario: String
    public var seed: UInt64
    public var timeScale: Double
    public var startedAt: Double
    public var endedAt: Double
    public var masters: [String]
    public var coreapps: [String]
    /// Shard count at boot (set_shards steps are nemesis operations of the history).
    public var shards: Int
    public var registered: Bool
    public var heartbeatInterval: Double
    public var unhealthyInterval: Double
    /// Logical seconds of the promotion allowance p (SPEC §10) and real seconds of slack.
    public var promotionAllowance: Double
    public var slackReal: Double
    /// First callback retry delay, logical seconds.
    public var callbackBackoff: Double
    /// The vacuity guard: a fault window with fewer accepted sends makes loss checks unknown.
    public var minSendsPerFault: Int
    /// When the workload sent, real unix seconds (nil: no workload).
    public var workloadFrom: Double?
    public var workloadTo: Double?
    /// Real unix times each node was killed or stopped (restarts included).
    public var deaths: [String: [Double]]
    /// `expect_failover` steps, so a recheck measures the same windows.
    public var failovers: [FailoverExpectation]
    /// Extra environment the nodes ran with (`--node-env`), so `shrink` replays the same build.
    public var nodeEnvironment: [String: String]?
    /// The database engine the run used.
    public var engine: String?
    /// Every `upgrade` step: what it did and when, for the upgrade checker.
    public var upgrades: [UpgradeRecord]?

    public init(scenario: String, seed: UInt64, timeScale: Double, startedAt: Double, endedAt: Double, masters: [String], coreapps: [String],
                shards: Int, registered: Bool, heartbeatInterval: Double, unhealthyInterval: Double, promotionAllowance: Double,
                slackReal: Double, callbackBackoff: Double, minSendsPerFault: Int, workloadFrom: Double? = nil, workloadTo: Double? = nil,
                deaths: [String: [Double]] = [:], failovers: [FailoverExpectation] = []) {
        self.scenario = scenario; self.seed = seed; self.timeScale = timeScale; self.startedAt = startedAt; self.endedAt = endedAt
        self.masters = masters; self.coreapps = coreapps; self.shards = shards; self.registered = registered
        self.heartbeatInterval = heartbeatInterval; self.unhealthyInterval = unhealthyInterval
        self.promotionAllowance = promotionAllowance; self.slackReal = slackReal; self.callbackBackoff = callbackBackoff
        self.minSendsPerFault = minSendsPerFault; self.workloadFrom = workloadFrom; self.workloadTo = workloadTo
        self.deaths = deaths; self.failovers = failovers
    }

    /// Logical seconds within which a shard whose owner failed must serve again (heartbeat path).
    public var recoveryAllowance: Double { unhealthyInterval + heartbeatInterval + promotionAllowance }
}

/// One `expect_failover` step: which shard, measured from which fault, within which window.
public struct FailoverExpectation: Codable, Equatable, Sendable {
    public var shard: Int
    public var line: Int
    /// The nemesis operation (fault id) the window is measured from, and the owner it took away.
    public var faultID: Int
    public var faultAt: Double
    public var previousOwner: String
    /// Window in logical seconds, before slack.
    public var minimum: Double
    public var maximum: Double
    public init(shard: Int, line: Int, faultID: Int, faultAt: Double, previousOwner: String, minimum: Double, maximum: Double) {
        self.shard = shard; self.line = line; self.faultID = faultID; self.faultAt = faultAt; self.previousOwner = previousOwner
        self.minimum = minimum; self.maximum = maximum
    }
}

/// One POST the webhook receiver accepted, with when it arrived.
public struct WebhookReceipt: Codable, Equatable, Sendable {
    public var ts: Double
    public var statuses: [Status]
    public var messages: [String]
    public struct Status: Codable, Equatable, Sendable { public var id: String; public var status: String
        public init(id: String, status: String) { self.id = id; self.status = status } }
    public init(ts: Double, statuses: [Status], messages: [String] = []) { self.ts = ts; self.statuses = statuses; self.messages = messages }

    /// Reads the webhook's JSON body (the On-Premises callback shape).
    public init(ts: Double, body: Data) {
        self.ts = ts
        let obj = try? JSONCodec.parse(body)
        statuses = (obj?["statuses"]?.arrayValue ?? []).compactMap { s in
            guard let id = s["id"]?.stringValue, let st = s["status"]?.stringValue else { return nil }
            return Status(id: id, status: st)
        }
        messages = (obj?["messages"]?.arrayValue ?? []).compactMap { $0["id"]?.stringValue }
    }
}

public struct RunRecordError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}

/// Everything saved about one scenario run, read back from its folder: the input of checkers.
public struct RunRecord: Sendable {
    public var meta: RunMeta
    public var history: [HistoryOp]
    /// The gateway journal (`gateway/gateway.jsonl`), one object per line.
    public var journal: [JSONValue]
    public var webhook: [WebhookReceipt]
    /// Every node's events, from `*.log`, in time order.
    public var events: [NodeEvent]

    public init(meta: RunMeta, history: [HistoryOp], journal: [JSONValue], webhook: [WebhookReceipt], events: [NodeEvent]) {
        self.meta = meta; self.history = history; self.journal = journal; self.webhook = webhook
        self.events = events.sorted { $0.ts < $1.ts }
    }

    public static let metaFile = "run.json", historyFile = "history.jsonl", webhookFile = "webhook.jsonl"
    public static let journalFile = "gateway/gateway.jsonl"

    /// Loads a scenario's run folder.
    public static func load(directory: String) throws -> RunRecord {
        let fm = FileManager.default
        guard let metaData = fm.contents(atPath: "\(directory)/\(metaFile)") else {
            throw RunRecordError("\(directory) has no \(metaFile): not a scenario run folder written by this wachaos (or the run did not get past boot)")
        }
        let meta: RunMeta
        do { meta = try JSONCodec.decode(RunMeta.self, from: metaData) }
        catch { throw RunRecordError("\(directory)/\(metaFile) is not readable: \(error)") }
        let history = try HistoryRecorder.read(path: "\(directory)/\(historyFile)")
        let journal = jsonLines(atPath: "\(directory)/\(journalFile)")
        let webhook = (fm.contents(atPath: "\(directory)/\(webhookFile)").map { String(decoding: $0, as: UTF8.self) } ?? "")
            .split(separator: "\n").compactMap { try? JSONCodec.decode(WebhookReceipt.self, from: Data($0.utf8)) }
        var events: [NodeEvent] = []
        for file in ((try? fm.contentsOfDirectory(atPath: directory)) ?? []).sorted() where file.hasSuffix(".log") {
            events += NodeEvent.read(file: "\(directory)/\(file)")
        }
        return RunRecord(meta: meta, history: history, journal: journal, webhook: webhook, events: events)
    }

    static func jsonLines(atPath path: String) -> [JSONValue] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return data.split(separator: 0x0A).compactMap { try? JSONValue.parse(Data($0)) }
    }

    // MARK: views

    /// Client sends: each invoke with its completion (nil when the run ended first).
    public var sends: [Send] {
        var open: [String: HistoryOp] = [:]
        var out: [Send] = []
        for op in history where !op.isNemesis && op.f == "send" {
            if op.type == .invoke { open[op.process] = op; continue }
            guard let invoke = open.removeValue(forKey: op.process) else { continue }
            out.append(Send(invoke: invoke, completion: op))
        }
        out += open.values.map { Send(invoke: $0, completion: nil) }
        return out.sorted { $0.invoke.ts < $1.invoke.ts }
    }

    /// Faults, each with when it was injected and when it was healed (nil: never healed).
    public var faults: [FaultWindow] {
        var out: [Int: FaultWindow] = [:]
        var order: [Int] = []
        for op in history where op.isNemesis {
            if op.type == .ok, let id = op.faultID, out[id] == nil {
                out[id] = FaultWindow(id: id, kind: op.f, value: op.value ?? op.f, start: op.ts, end: nil,
                                      targets: op.targets ?? [], shards: op.shards ?? [], line: op.line)
                order.append(id)
            }
            if op.type == .ok, let heals = op.heals {
                for id in heals where out[id]?.end == nil { out[id]?.end = op.ts }
            }
        }
        return order.compactMap { out[$0] }
    }

    /// Gateway arrivals per message id (every `message` line counts: never deduplicated).
    public var arrivals: [String: [JSONValue]] {
        var out: [String: [JSONValue]] = [:]
        for e in journal where e["event"]?.stringValue == "message" {
            if let id = e["id"]?.stringValue { out[id, default: []].append(e) }
        }
        return out
    }
}

/// A client send: its invoke and its completion.
public struct Send: Sendable, Equatable {
    public var invoke: HistoryOp
    public var completion: HistoryOp?
    public var outcome: HistoryOp.Kind { completion?.type ?? .info }
    public var shard: Int? { invoke.shard ?? completion?.shard }
    public var end: Double { completion?.ts ?? invoke.ts }
}

/// A fault as the history has it.
public struct FaultWindow: Sendable, Equatable {
    public var id: Int
    public var kind: String
    public var value: String
    public var start: Double
    public var end: Double?
    public var targets: [String]
    public var shards: [Int]
    public var line: Int?
}
