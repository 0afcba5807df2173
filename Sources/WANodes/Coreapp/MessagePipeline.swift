import Foundation
import Logging
import WACore
import WAStore
import WAWire

/// The shard owner's messaging. A message is durable in the DB before its 201; it reaches
/// the gateway exactly once: this owner sends what it accepted itself at once, and anything
/// else still pending (accepted by a previous owner, or sent on a session that broke) only
/// after asking the gateway which of those ids it already has (`sync`). Fencing guarantees
/// the previous owner's connection is gone before this one opens, so nothing can arrive
/// behind that answer. Statuses move messages forward and queue webhook callbacks, which are
/// delivered at least once with the product's linear backoff.
public actor MessagePipeline {
    struct Ownership { var shard: Int; var epoch: Int; var shards: Int }

    let rt: NodeRuntime
    var ownership: Ownership?
    var session: (any GatewayLink)?
    var accepting: [(MessageRecord, CheckedContinuation<String, Error>)] = []
    var flushing = false
    /// Sent on the current session and not yet acknowledged.
    /// Ids sent on the live session and not yet acked, with when they went: an ack that never
    /// comes (lost by the WhatsApp server) makes the id a reconcile candidate again after
    /// `ackTimeout`, so `sync` finds out whether it arrived.
    var sentOnSession: [String: LogicalInstant] = [:]
    let ackTimeout = 5.0
    var statusBuffer: [StatusUpdate] = []
    var statusFlushing = false
    var reconciling = false
    /// Ids the fast path sent while a `sync` was out: the gateway's answer predates them (frames
    /// on one session arrive in order), so "not known" does not mean "never got" for these.
    var sentSinceSync: Set<String> = []
    var syncWaiters: [Int: CheckedContinuation<[String]?, Never>] = [:]
    var syncSeq = 0
    var memoryCallbacks: [CallbackRecord] = []
    var nextMemoryCallback: Int64 = -1
    var delivering = false
    /// Whether stored callbacks may be due that the last look did not see: set when statuses
    /// were stored, when a look came back full and when a shard is taken over. Otherwise the
    /// store is looked at once a tick (retries coming due), not at every delivery pass: on a
    /// slow database those reads held connections the accepts and lease renewals waited for.
    var storedCallbacksMayBeDue = true
    var lastStoredCallbackLook = LogicalInstant(seconds: -1e9)
    /// Messages this owner marked failed (for `/metrics` and support).
    public private(set) var failedMessages = 0
    /// Callbacks that could not even be attempted (no usable webhook URL), counted and logged.
    public private(set) var unattemptableCallbacks = 0
    var lastUnusableWebhookLog = LogicalInstant(seconds: -1e9)

    public init(runtime: NodeRuntime) { rt = runtime }

    // MARK: ownership, told by the controller

    func own(shard: Int, epoch: Int, shards: Int) {
        if ownership?.shard != shard || ownership?.epoch != epoch { sentOnSession = [:] }
        ownership = Ownership(shard: shard, epoch: epoch, shards: shards)
        storedCallbacksMayBeDue = true
    }

    func release() {
        ownership = nil
        session = nil
        sentOnSession = [:]
    }

    func sessionUp(_ s: any GatewayLink) async {
        session = s
        sentOnSession = [:]
        await reconcile()
    }

    func sessionDown(_ s: any GatewayLink) {
        guard session === s else { return }
        session = nil
        sentOnSession = [:]
        for (_, w) in syncWaiters { w.resume(returning: nil) }
        syncWaiters = [:]
    }

    var servingShard: Int? { ownership?.shard }

    // MARK: accept

    public func accept(to: String, body: String, kind: MessageKind = .text, idempotencyKey: String?) async throws -> String {
        guard let o = ownership else {
            throw APIError(.notPrimaryCoreapp, "this coreapp (\(rt.config.hostname)) does not own a shard right now; retry", status: 503)
        }
        let recipient = ShardRouter.normalize(to)
        let shard = ShardRouter.shard(for: recipient, shards: o.shards)
        guard shard == o.shard else {
            throw APIError(.notPrimaryCoreapp, "recipient belongs to shard \(shard); this coreapp serves shard \(o.shard); retry", status: 503)
        }
        let record = MessageRecord(id: MessageID.make(), shard: shard, recipient: recipient, body: body, idempotencyKey: idempotencyKey,
                                   state: .accepted, acceptedBy: rt.nodeID, acceptedAt: rt.clock.now, kind: kind)
        return try await withCheckedThrowingContinuation { c in
            accepting.append((record, c))
            if !flushing {
                flushing = true
                if !rt.tasks.spawn({ await self.flushAccepts() }) { refuseAccepting() }
            }
        }
    }

    /// The node is stopping and takes no more work: what waits to be written is not accepted.
    func refuseAccepting() {
        let waiting = accepting
        accepting = []
        flushing = false
        let e = APIError(.notPrimaryCoreapp, "this coreapp (\(rt.config.hostname)) is stopping; the message was not accepted; retry", status: 503)
        for (_, c) in waiting { c.resume(throwing: e) }
    }

    /// Group commit: everything that arrived while the previous batch was being written goes
    /// into the next transaction.
    func flushAccepts() async {
        while !accepting.isEmpty {
            let batch = accepting
            accepting = []
            do {
                let ids = try await rt.store.acceptMessages(batch.map(\.0))
                for (i, (record, c)) in batch.enumerated() {
                    if ids[i] != record.id, let mismatch = await reuseMismatch(record, existingID: ids[i]) { c.resume(throwing: mismatch) }
                    else { c.resume(returning: ids[i]) }
                }
                for (i, (record, _)) in batch.enumerated() where ids[i] == record.id { send(record, validated: true) }
            } catch {
                let answer = Self.acceptFailure(error)
                for (_, c) in batch { c.resume(throwing: answer) }
            }
        }
        flushing = false
    }

    /// A retry under an Idempotency-Key gets the first message's id; the same key with a
    /// different recipient or body is a client bug, refused so the new message is not lost silently.
    func reuseMismatch(_ record: MessageRecord, existingID: String) async -> APIError? {
        guard let existing = try? await rt.store.message(existingID) else { return nil }
        // A message whose content pass_through removed keeps its recipient and kind to compare.
        guard existing.recipient != record.recipient || existing.kind != record.kind || (existing.body != record.body && !existing.body.isEmpty) else { return nil }
        return APIError(.parameterInvalid, "Idempotency-Key was already used for message \(existingID) with a different recipient or body; use a new key for a new message", status: 409)
    }

    /// Sends one message on the live session unless it already went out on it. `validated`: the
    /// record came in through this owner's RPC, which applied the rules already; rows read back
    /// from the database are checked here once more.
    func send(_ m: MessageRecord, validated: Bool = false) {
        guard let s = session, s.state == .connected, let o = ownership, m.shard == o.shard, sentOnSession[m.id] == nil else { return }
        if !validated, let problem = Self.unsendable(m) { fail(m, problem); return }
        var f = GatewayFrame(.message)
        f.id = m.id; f.to = m.recipient; f.body = m.body; f.kind = m.kind == .text ? nil : m.kind.rawValue
        if s.send(f) {
            sentOnSession[m.id] = rt.clock.monotonicNow
            if reconciling { sentSinceSync.insert(m.id) }
        }
    }

    /// Why a stored message can never be sent (it breaks a rule or the gateway's frame limit),
    /// or nil. Such a row may predate a rule or have been written around the API.
    static func unsendable(_ m: MessageRecord) -> String? {
        // Pages of pending messages carry a body cut one character past the limit: "longer than".
        if m.body.unicodeScalars.count > RequestRules.maxTextBodyCharacters {
            return "\(m.kind == .text ? "text.body" : m.kind.field) is longer than the \(RequestRules.maxTextBodyCharacters) characters a message may have"
        }
        if m.body.isEmpty { return "\(m.kind == .text ? "text.body" : m.kind.field) is empty" }
        if m.kind != .text { do { try RequestRules.content(m.body, kind: m.kind) } catch { return error.details } }
        do { _ = try RequestRules.recipient(m.recipient, field: "recipient") } catch { return error.details }
        // Every character escaped as \uXXXX is the worst case; only a row that could pass the
        // frame limit that way (a huge id) is encoded to measure it.
        let worst = (m.body.utf8.count + m.id.utf8.count) * 6 + 256
        if worst > WireLimits.gatewayFrameBytes {
            var f = GatewayFrame(.message)
            f.id = m.id; f.to = m.recipient; f.body = m.body; f.kind = m.kind == .text ? nil : m.kind.rawValue
            let size = f.encodedLine().count
            if size > WireLimits.gatewayFrameBytes { return "the message is \(size) bytes on the wire; the WhatsApp server takes at most \(WireLimits.gatewayFrameBytes)" }
        }
        return nil
    }

    /// Marks a message failed for good (status `failed`, with the reason, to the webhook), so the
    /// messages behind it go on.
    func fail(_ m: MessageRecord, _ reason: String) {
        failedMessages += 1
        rt.logger.event("message_failed", "message \(m.id) can never be sent and is marked failed: \(reason)",
                        ["id": m.id, "shard": "\(m.shard)", "reason": reason], level: .warning)
        buffer([StatusUpdate(id: m.id, state: .failed, failure: reason)])
    }

    // MARK: reconcile pending messages

    /// Sends what is still pending for this shard, after asking the gateway which ids it has.
    public func reconcile() async {
        guard !reconciling, let o = ownership, let s = session, s.state == .connected else { return }
        reconciling = true
        defer { reconciling = false; sentSinceSync = [] }
        var rounds = 0
        while rounds < 50, session === s, ownership?.shard == o.shard {
            rounds += 1
            let horizon = rt.clock.now - 0.5
            guard let pending = try? await rt.store.pendingMessages(shard: o.shard, limit: 500) else { return }
            // Fresh accepts of this owner go out on the fast path; leave them to it.
            let unacked = rt.clock.monotonicNow - ackTimeout
            let candidates = pending.filter { m in
                if let sent = sentOnSession[m.id] { return sent < unacked }
                return m.acceptedBy != rt.nodeID || m.acceptedAt < horizon
            }
            if candidates.isEmpty { return }
            sentSinceSync = []
            guard let known = await syncWithGateway(candidates.map(\.id), session: s) else { return }
            let knownSet = Set(known)
            if !known.isEmpty {
                rt.logger.event("messages_reconciled", "\(known.count) pending message(s) were already at the gateway", ["shard": "\(o.shard)", "count": "\(known.count)"])
                for id in known { sentOnSession[id] = nil }
                buffer(known.map { StatusUpdate(id: $0, state: .sent) })
            }
            var resent = 0
            for m in candidates where !knownSet.contains(m.id) && !sentSinceSync.contains(m.id) {
                sentOnSession[m.id] = nil
                let before = sentOnSession.count
                send(m)
                if sentOnSession.count > before { resent += 1 }
            }
            if resent > 0 {
                rt.logger.event("messages_resent", "sent \(resent) pending message(s) the gateway never got", ["shard": "\(o.shard)", "count": "\(resent)"])
            }
            if pending.count < 500 { return }
        }
    }

    func syncWithGateway(_ ids: [String], session s: any GatewayLink) async -> [String]? {
        syncSeq += 1
        let seq = syncSeq
        var f = GatewayFrame(.sync)
        f.ids = ids; f.seq = seq
        guard session === s, s.send(f) else { return nil }
        let timeout = rt.real(5, floor: 1)
        let clock = rt.clock
        // The timeout runs on the side; its first chance to run is after the waiter is in place
        // (it needs this actor, which is busy until the continuation below suspends).
        let timed = rt.tasks.spawn {
            try? await clock.sleep(logicalSeconds: clock.scale.logical(timeout))
            await self.syncTimedOut(seq)
        }
        guard timed else { return nil }
        return await withCheckedContinuation { c in syncWaiters[seq] = c }
    }

    func syncTimedOut(_ seq: Int) { syncWaiters.removeValue(forKey: seq)?.resume(returning: nil) }

    // MARK: frames from the gateway

    public func receive(_ f: GatewayFrame) async {
        switch f.type {
        case .ack, .status:
            guard let id = f.id, let state = MessageState(rawValue: f.status ?? "") else { return }
            if state == .failed {
                sentOnSession[id] = nil
                rt.logger.event("message_failed", "the WhatsApp server refused message \(id): \(f.reason ?? "no reason given")",
                                ["id": id, "reason": f.reason ?? ""], level: .warning)
                failedMessages += 1
                buffer([StatusUpdate(id: id, state: .failed, failure: f.reason ?? "refused by the WhatsApp server")])
                return
            }
            if state == .sent || state == .delivered || state == .read { sentOnSession[id] = nil }
            // The WhatsApp server reports delivery only of what it received: a "delivered" that
            // overtakes a late ack still owes the webhook its "sent" (a no-op when already sent).
            if state == .delivered || state == .read { buffer([StatusUpdate(id: id, state: .sent), StatusUpdate(id: id, state: state)]) }
            else { buffer([StatusUpdate(id: id, state: state)]) }
        case .syncResult:
            syncWaiters.removeValue(forKey: f.seq ?? -1)?.resume(returning: f.ids ?? [])
        case .inbound:
            await inbound(f)
        default:
            break
        }
    }

    /// Statuses wait for the next callback pass (`ClusterTimings.callbackPass`), or until
    /// `statusWriteBatch` wait, and are then written in one transaction: written as each ack
    /// came, a pass cost the database a transaction per two or three acknowledgements (the
    /// message benchmark's largest share of database work), and the webhook hears of a status
    /// only at a pass anyway. Once the owner stops, each status is written as it comes: the
    /// last frames of a closing session may still be on their way.
    func buffer(_ updates: [StatusUpdate]) {
        statusBuffer += updates
        guard statusBuffer.count >= Self.statusWriteBatch || writeEachStatus, !statusFlushing,
              rt.clock.monotonicNow >= statusRetryAt else { return }
        statusFlushing = true
        if !rt.tasks.spawn({ await self.flushStatuses() }) { finishStatusWrite() }
    }

    static let statusWriteBatch = 200
    /// How long writes wait after the database refused one (logical s, on the monotonic clock).
    static let statusRetryPause = 0.5
    /// Set by `stopBatchingStatuses` when the node stops.
    var writeEachStatus = false
    /// A refused write holds the next attempts until then.
    var statusRetryAt = LogicalInstant(seconds: -1e9)
    var statusWriteWaiters: [CheckedContinuation<Void, Never>] = []

    /// The owner's loops (and a handover, `ignoringPause`): writes what the buffer holds unless a
    /// write is under way (it takes what came meanwhile too) or the database refused the last one
    /// less than `statusRetryPause` ago. Every write is one attempt, bounded by the database
    /// operation's deadline, and the next pass is the retry: a database that is away never holds
    /// a loop (deliveries of callbacks kept in memory go on) or a stop.
    public func writeStatuses(ignoringPause: Bool = false) async {
        guard !statusFlushing, !statusBuffer.isEmpty, ignoringPause || rt.clock.monotonicNow >= statusRetryAt else { return }
        statusFlushing = true
        await flushStatuses()
    }

    /// The node stops: waits for the write under way, writes what is left once, and from now on
    /// writes every status as it comes (what a closing session still delivers). The database
    /// may refuse; the next owner's `sync` then finds the sent ones again.
    func stopBatchingStatuses() async {
        writeEachStatus = true
        while statusFlushing { await withCheckedContinuation { statusWriteWaiters.append($0) } }
        await writeStatuses(ignoringPause: true)
    }

    private func finishStatusWrite() {
        statusFlushing = false
        let waiters = statusWriteWaiters
        statusWriteWaiters = []
        for w in waiters { w.resume() }
    }

    /// One attempt per batch: what came while a batch was written goes next; a refusal puts
    /// the batch back and pauses writes for `statusRetryPause`.
    private func flushStatuses() async {
        defer { finishStatusWrite() }
        while !statusBuffer.isEmpty {
            let batch = statusBuffer
            statusBuffer = []
            let settings = rt.settings
            let persist = settings.callbackPersist
            let stamp = CallbackStamp(unixTime: rt.unixTime, silenced: CallbackStamp.silenced(by: settings))
            do {
                let moved = try await rt.store.applyStatuses(batch, at: rt.clock.now, callbacks: persist ? stamp : nil)
                statusRetryAt = LogicalInstant(seconds: -1e9)
                if persist, !moved.isEmpty { storedCallbacksMayBeDue = true }
                if !persist {
                    for change in moved where stamp.callsBack(change.state) {
                        memoryCallback(shard: change.shard, kind: "status", payload: CallbackPayloads.status(change, unixTime: stamp.unixTime))
                    }
                }
                if settings.passThrough {
                    let arrived = moved.filter { $0.state == .delivered || $0.state == .read }.map(\.id)
                    do { try await rt.store.eraseDeliveredContent(arrived) }
                    catch { rt.logger.event("db_error", "pass_through: could not remove the content of \(arrived.count) delivered message(s): \(error)", level: .warning) }
                }
            } catch {
                rt.logger.event("db_error", "could not record \(batch.count) status(es): \(error)", level: .warning)
                statusBuffer.insert(contentsOf: batch, at: 0)
                statusRetryAt = rt.clock.monotonicNow + Self.statusRetryPause
                return
            }
        }
    }

    /// One pass of the owner's callback loop: the statuses that came since the last one are
    /// written, then whatever is due is delivered.
    public func callbackPass() async {
        await writeStatuses()
        await deliverCallbacks()
    }

    func inbound(_ f: GatewayFrame) async {
        guard let id = f.id, let from = f.from, let shard = ownership?.shard else { return }
        let body = f.body ?? ""
        guard (try? await rt.store.recordInbound(id: id, shard: shard, sender: from, body: body, at: rt.clock.now)) == true else { return }
        let payload = CallbackPayloads.inbound(id: id, from: from, body: body, unixTime: rt.unixTime)
        if rt.settings.callbackPersist {
            try? await rt.store.enqueueCallback(shard: shard, kind: "inbound", payload: payload, at: rt.clock.now)
        } else {
            memoryCallback(shard: shard, kind: "inbound", payload: payload)
        }
        rt.logger.event("inbound_message", "inbound message \(id) from \(from)", ["id": id, "shard": "\(shard)"])
    }

    func memoryCallback(shard: Int, kind: String, payload: String) {
        nextMemoryCallback -= 1
        memoryCallbacks.append(CallbackRecord(id: nextMemoryCallback, shard: shard, kind: kind, payload: payload, attempts: 0, nextAttemptAt: rt.clock.now))
    }

    // MARK: webhooks

    /// One delivery pass: due callbacks, statuses merged into one POST, at most
    /// `webhooks.max_concurrent_requests` POSTs in flight. Stored callbacks are the shard
    /// owner's to deliver; callbacks kept in memory (`callback_persist: false`) are this node's
    /// own whichever shard it serves now, so giving a shard up (a reshard) does not drop them.
    public func deliverCallbacks() async {
        let shard = ownership?.shard
        guard !delivering, shard != nil || !memoryCallbacks.isEmpty, let url = rt.settings.webhookURL else { return }
        let target: WebhookTarget
        do { target = try WebhookTarget.parse(url) } catch {
            // A URL stored before it was checked: say so (once a minute) and count what waits.
            var waiting = memoryCallbacks.count
            if let shard { waiting += (try? await rt.store.dueCallbacks(shard: shard, now: rt.clock.now, limit: 500))?.count ?? 0 }
            unattemptableCallbacks = waiting
            if rt.clock.now - lastUnusableWebhookLog > 60 {
                lastUnusableWebhookLog = rt.clock.now
                rt.logger.event("webhook_unusable", "webhooks.url '\(url)' cannot be used (\(error.reason)); \(waiting) callback(s) wait unattempted; PATCH a usable URL",
                                ["count": "\(waiting)", "reason": error.reason], level: .error)
            }
            return
        }
        unattemptableCallbacks = 0
        delivering = true
        defer { delivering = false }
        let now = rt.clock.now
        var due = memoryCallbacks.filter { $0.nextAttemptAt <= now }
        if let shard, storedCallbacksMayBeDue || now - lastStoredCallbackLook >= rt.timings.tick {
            storedCallbacksMayBeDue = false
            lastStoredCallbackLook = now
            if let stored = try? await rt.store.dueCallbacks(shard: shard, now: now, limit: 500) {
                due += stored
                if stored.count == 500 { storedCallbacksMayBeDue = true }
            } else {
                storedCallbacksMayBeDue = true
            }
        }
        if due.isEmpty { return }
        let batches = Self.batches(due)
        let settings = rt.settings
        let failures = await Self.post(batches, to: target, poster: rt.webhooks, timeout: rt.real(10, floor: 2),
                                       concurrency: settings.webhooks.maxConcurrentRequests)
        let byID = Dictionary(due.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for (batch, failure) in zip(batches, failures) {
            let stored = batch.ids.filter { $0 > 0 }
            if let failure {
                let retries = batch.ids.map { id -> CallbackRetry in
                    let attempt = (byID[id]?.attempts ?? 0) + 1
                    return CallbackRetry(id: id, attempts: attempt, nextAttemptAt: now + CallbackBackoff.delay(afterAttempt: attempt, settings))
                }
                let byRetry = Dictionary(retries.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
                let storedRetries = retries.filter { $0.id > 0 }
                if !storedRetries.isEmpty { try? await rt.store.retryCallbacks(storedRetries, error: failure) }
                for i in memoryCallbacks.indices {
                    guard let r = byRetry[memoryCallbacks[i].id] else { continue }
                    memoryCallbacks[i].attempts = r.attempts
                    memoryCallbacks[i].nextAttemptAt = r.nextAttemptAt
                }
                rt.logger.event("webhook_failed", "webhook delivery failed (\(batch.ids.count) callback(s)): \(failure)", ["count": "\(batch.ids.count)"], level: .warning)
            } else {
                if !stored.isEmpty { try? await rt.store.completeCallbacks(stored) }
                memoryCallbacks.removeAll { batch.ids.contains($0.id) }
            }
        }
    }

    /// One POST body per batch: every status callback merged into one, each other callback alone.
    static func batches(_ due: [CallbackRecord]) -> [(ids: [Int64], body: Data)] {
        var statuses: [JSONValue] = []
        var statusIDs: [Int64] = []
        var singles: [CallbackRecord] = []
        for cb in due {
            if cb.kind == "status", let obj = try? JSONValue.parse(Data(cb.payload.utf8)), case .array(let list)? = obj["statuses"] {
                statuses += list; statusIDs.append(cb.id)
            } else { singles.append(cb) }
        }
        var batches: [(ids: [Int64], body: Data)] = []
        if !statuses.isEmpty { batches.append((statusIDs, JSONCodec.data(.object(["statuses": .array(statuses)])))) }
        for cb in singles { batches.append(([cb.id], Data(cb.payload.utf8))) }
        return batches
    }

    /// POSTs every batch, at most `concurrency` at once; answers each batch's failure (nil: delivered), in order.
    static func post(_ batches: [(ids: [Int64], body: Data)], to target: WebhookTarget, poster: any WebhookPoster,
                     timeout: Double, concurrency: Int) async -> [String?] {
        let bodies = batches.map(\.body)
        return await withTaskGroup(of: (Int, String?).self) { group in
            var failures = [String?](repeating: nil, count: bodies.count)
            var running = 0
            for (i, body) in bodies.enumerated() {
                if running >= max(1, concurrency), let (j, f) = await group.next() { failures[j] = f; running -= 1 }
                group.addTask {
                    do {
                        let status = try await poster.post(body, to: target, timeout: timeout)
                        return (i, (200..<300).contains(status) ? nil : "webhook answered \(status)")
                    } catch { return (i, "\(error)") }
                }
                running += 1
            }
            for await (j, f) in group { failures[j] = f }
            return failures
        }
    }
}

extension MessagePipeline {
    /// What the client hears when the database did not take a batch: not accepted (retry), or
    /// no answer in time (retry with the same Idempotency-Key), never a 201.
    static func acceptFailure(_ error: Error) -> APIError {
        switch (error as? StoreError)?.code {
        case .unavailable?:
            return APIError(.databaseError, "the database is unreachable; the message was not accepted; retry", status: 503)
        case .timeout?:
            return APIError(.databaseError, "the database did not confirm the message in time; it may or may not have been accepted — retry with the same Idempotency-Key to avoid a duplicate", status: 503)
        default:
            return APIError(.databaseError, "could not store the message: \(error)", status: 500)
        }
    }
}

/// Message ids in the product's style: "gBEG" and 22 URL-safe base64 characters.
public enum MessageID {
    /// "gBEG" and 128 random bits in unpadded base64url: 26 characters.
    public static func make() -> String {
        // Two 64-bit draws (one getrandom each), not sixteen.
        var rng = SystemRandomNumberGenerator()
        return make(rng.next(), rng.next())
    }

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Written straight into the string: Foundation's base64 and three `replacingOccurrences`
    /// were 7 % of a coreapp's CPU under the message benchmark (perf).
    static func make(_ high: UInt64, _ low: UInt64) -> String {
        var words = (high, low)
        return withUnsafeBytes(of: &words) { raw in
            String(unsafeUninitializedCapacity: 26) { out in
                for (i, c) in "gBEG".utf8.enumerated() { out[i] = c }
                var o = 4
                func put(_ n: UInt32, _ count: Int) {
                    for k in 0..<count { out[o + k] = alphabet[Int((n >> (18 - 6 * UInt32(k))) & 63)] }
                    o += count
                }
                var i = 0
                while i + 3 <= raw.count {
                    put(UInt32(raw[i]) << 16 | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2]), 4)
                    i += 3
                }
                put(UInt32(raw[i]) << 16, 2)  // 16 bytes = 5 × 3 + 1: the last byte makes two characters
                return o
            }
        }
    }
}

/// `http://host:port/path` of the webhook.
