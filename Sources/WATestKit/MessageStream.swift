import ChaosCheckers
import Foundation
import NIOCore
import WACore
import WAWire

/// A client sending messages at a steady pace from several concurrent senders, recording
/// which were accepted (201 and an id) and which were refused, for exactly-once checks. With a
/// `HistoryRecorder` every send is an invoke and a completion in `history.jsonl`: `ok`, `fail`
/// (an answer that says the message was not accepted) or `info` (no answer, a 504, or an
/// answer saying it may or may not have been accepted). Every send carries an Idempotency-Key; after an `info` the sender retries under
/// the same key, up to three times with growing pauses, as a careful client would.
public final class MessageStream: Sendable {
    public struct Accepted: Sendable { public var id: String; public var to: String; public var at: Double }
    private struct State {
        var sent: [Accepted] = []
        var refusedByStatus: [Int: Int] = [:]
        var errorCount = 0
        var stopped = false
        var recent: [Outcome] = []
    }
    /// One completed send, for a live view's per-shard success over the last seconds.
    public struct Outcome: Sendable { public var at: Double; public var shard: Int; public var accepted: Bool }
    /// How long `recentOutcomes` reaches back, real seconds.
    public static let recentWindow = 30.0
    private let state = Locked(State())
    /// Sends answered 201, in order.
    public var accepted: [Accepted] { state.withLock { $0.sent } }
    /// Sends refused, by HTTP status.
    public var refused: [Int: Int] { state.withLock { $0.refusedByStatus } }
    /// Sends with no answer at all.
    public var errors: Int { state.withLock { $0.errorCount } }
    /// Completions within `recentWindow`, oldest first.
    public var recentOutcomes: [Outcome] { state.withLock { $0.recent } }
    let history: HistoryRecorder?
    let shards: @Sendable () -> Int
    /// Starts every Idempotency-Key, so streams run one after another in one history never
    /// reuse a key (a reused key would be answered with the earlier message).
    let keyPrefix: String

    /// Retries under the same key after an unknown outcome, each after a longer pause.
    public static let retriesAfterInfo = 3

    public init(history: HistoryRecorder? = nil, keyPrefix: String = "s", shards: @escaping @Sendable () -> Int = { 1 }) {
        self.history = history
        self.keyPrefix = keyPrefix
        self.shards = shards
    }

    private func remember(_ shard: Int, accepted: Bool, at: Double) {
        state.withLock { s in
            s.recent.append(Outcome(at: at, shard: shard, accepted: accepted))
            if let first = s.recent.first, first.at < at - Self.recentWindow {
                s.recent.removeFirst(s.recent.firstIndex { $0.at >= at - Self.recentWindow } ?? s.recent.count)
            }
        }
    }

    public func stop() { state.withLock { $0.stopped = true } }
    var isStopped: Bool { state.withLock { $0.stopped } }

    /// The default recipients: `count` numbers spread over every shard.
    public static func recipients(_ count: Int = 200) -> [String] { (0..<count).map { "1555\(String(format: "%07d", $0))" } }

    /// Sends until `stop()`; each sender waits `interval` real seconds between messages.
    public func run(cluster: LocalCluster, senders: Int, interval: Double, recipients: [String] = MessageStream.recipients()) async {
        await withTaskGroup(of: Void.self) { group in
            for s in 0..<senders {
                group.addTask {
                    var n = 0
                    while !self.isStopped {
                        n += 1
                        let to = recipients[(s * 7919 + n) % recipients.count]
                        let key = "\(self.keyPrefix)\(s)-\(n)"
                        var outcome = await self.send(cluster: cluster, process: "client-\(s)", to: to, key: key, text: "stream \(s)-\(n)")
                        var retries = 0
                        while outcome == .info, retries < MessageStream.retriesAfterInfo, !self.isStopped {
                            retries += 1
                            try? await Polling.pause(seconds: max(interval, 0.1) * Double(retries))
                            outcome = await self.send(cluster: cluster, process: "client-\(s)", to: to, key: key, text: "stream \(s)-\(n)")
                        }
                        try? await Polling.pause(seconds: interval)
                    }
                }
            }
        }
    }

    /// One send, recorded; returns its outcome.
    func send(cluster: LocalCluster, process: String, to: String, key: String, text: String) async -> HistoryOp.Kind {
        let shard = ShardRouter.shard(for: to, shards: shards())
        history?.record(process, .invoke, "send") { $0.shard = shard; $0.recipient = to; $0.key = key }
        let body: JSONValue = .object(["to": .string(to), "type": .string("text"), "text": .object(["body": .string(text)])])
        do {
            let r = try await cluster.api("POST", "/v1/messages", body: body, headers: ["Idempotency-Key": key], timeout: 10)
            let now = Date().timeIntervalSince1970
            if r.status == 201, case .array(let m)? = r.json?["messages"], let id = m.first?["id"]?.stringValue {
                history?.record(process, .ok, "send", at: now) { $0.shard = shard; $0.recipient = to; $0.key = key; $0.status = 201; $0.id = id }
                state.withLock { $0.sent.append(Accepted(id: id, to: to, at: now)) }
                remember(shard, accepted: true, at: now)
                return .ok
            }
            let error = r.json?["errors"].flatMap { if case .array(let a) = $0 { a.first } else { nil } }
            let code = error?["code"]?.intValue.map(String.init) ?? "-"
            // Unknown outcome: a 504 (the owner did not answer), or the product's documented
            // "may or may not have been accepted" (a 503 when the database did not confirm).
            let details = error?["details"]?.stringValue ?? ""
            let kind: HistoryOp.Kind = r.status == 504 || details.contains("may or may not") ? .info : .fail
            history?.record(process, kind, "send", at: now) {
                $0.shard = shard; $0.recipient = to; $0.key = key; $0.status = r.status
                $0.error = "\(code): \(error?["details"]?.stringValue ?? error?["title"]?.stringValue ?? r.text.prefix(120).description)"
            }
            state.withLock { $0.refusedByStatus[r.status, default: 0] += 1 }
            remember(shard, accepted: false, at: now)
            return kind
        } catch {
            history?.record(process, .info, "send") { $0.shard = shard; $0.recipient = to; $0.key = key; $0.error = "\(error)" }
            state.withLock { $0.errorCount += 1 }
            remember(shard, accepted: false, at: Date().timeIntervalSince1970)
            return .info
        }
    }
}
