import Foundation
import ShellTestKit
import Testing
import WACore
@testable import WANodes
import WAStore
import WAWire

/// The shard owner's messaging, driven in-process: a manual clock, a temporary store, a fake webhook.
@Suite("Message pipeline")
struct MessagePipelineTests {
    static let webhookURL = "http://127.0.0.1:9/hook"

    func owner(_ f: ShellFixture, settings: (inout ApplicationSettings) -> Void) async throws -> (NodeRuntime, MessagePipeline) {
        var s = ApplicationSettings()
        s.webhooks.url = Self.webhookURL
        settings(&s)
        _ = try await f.store.saveSettings(s)
        let rt = try f.runtime(.coreapp, hostname: "wacore1", nodeID: "c1", port: 7110)
        try await rt.refreshSettings()
        let pipeline = MessagePipeline(runtime: rt)
        await pipeline.own(shard: 0, epoch: 1, shards: 1)
        return (rt, pipeline)
    }

    /// `count` accepted messages of this owner, stored.
    func stored(_ count: Int, named stem: String, in f: ShellFixture) async throws -> [MessageRecord] {
        let messages = (0..<count).map { i in
            MessageRecord(id: "gBEG\(stem)\(i)", shard: 0, recipient: "1555\(String(format: "%07d", i))", body: "hi", idempotencyKey: nil,
                          state: .accepted, acceptedBy: "c1", acceptedAt: f.clock.now)
        }
        _ = try await f.store.acceptMessages(messages)
        return messages
    }

    /// The WhatsApp server reports `status` of `m`: an ack for "sent", a status frame otherwise.
    func report(_ status: String, of m: MessageRecord, to pipeline: MessagePipeline) async {
        var frame = GatewayFrame(status == "sent" ? .ack : .status)
        frame.id = m.id; frame.status = status
        await pipeline.receive(frame)
    }

    @Test func aFailingWebhookIsRetriedOnTheProductsLinearSchedule() async throws {
        let webhook = FakeWebhook(answers: [500, 503, 500])
        let f = try await ShellFixture(webhooks: webhook)
        let (_, pipeline) = try await owner(f) { $0.callbackBackoffDelayMs = 3000; $0.maxCallbackBackoffDelayMs = 900_000 }
        let start = f.clock.now
        try await f.store.enqueueCallback(shard: 0, kind: "inbound", payload: #"{"messages":[]}"#, at: start)

        var attempts: [Double] = []
        for _ in 0..<320 {  // every 1/8 s (exact in binary) for 40 s, about as often as the coreapp's loop
            let before = await webhook.bodies.count
            await pipeline.deliverCallbacks()
            if await webhook.bodies.count > before { attempts.append(f.clock.now - start) }
            f.clock.advance(by: 0.125)
        }
        // Attempt n waits n × 3 s after it failed: 0, 3, 3 + 6, 9 + 9; the fourth succeeds.
        #expect(attempts == [0, 3, 9, 18])
        #expect(try await f.store.dueCallbacks(shard: 0, now: f.clock.now + 1e6, limit: 10).isEmpty)
    }

    @Test func theRetryDelayIsCappedByMaxCallbackBackoff() {
        var s = ApplicationSettings()
        s.callbackBackoffDelayMs = 3000
        s.maxCallbackBackoffDelayMs = 10_000
        #expect((1...5).map { CallbackBackoff.delay(afterAttempt: $0, s) } == [3, 6, 9, 10, 10])
    }

    /// `callback_persist: false`: statuses live only in the owner's memory. Giving the shard up
    /// gracefully (a reshard) must not drop them, and they carry the same fields as stored ones.
    @Test func inMemoryStatusCallbacksOutliveTheShardAndCarryTheRecipient() async throws {
        let webhook = FakeWebhook()
        let f = try await ShellFixture(webhooks: webhook)
        let (rt, pipeline) = try await owner(f) { $0.callbackPersist = false }
        let message = MessageRecord(id: "gBEGmessage1", shard: 0, recipient: "15550001111", body: "hi", idempotencyKey: nil,
                                    state: .accepted, acceptedBy: "c1", acceptedAt: f.clock.now)
        _ = try await f.store.acceptMessages([message])

        try await withSideWork(rt) {
            var ack = GatewayFrame(.ack)
            ack.id = message.id; ack.status = "sent"
            await pipeline.receive(ack)
            await pipeline.writeStatuses()  // the owner's next callback pass
            #expect(await pipeline.memoryCallbacks.count == 1)
            let stored = try await f.store.dueCallbacks(shard: 0, now: f.clock.now + 1, limit: 10)
            #expect(stored.isEmpty, "callback_persist: false stores nothing")

            await pipeline.release()  // the shard count changed: this coreapp gives its shard up
            await pipeline.deliverCallbacks()
        }
        let bodies = await webhook.bodies
        #expect(bodies.count == 1, "the status was dropped with the shard")
        guard case .array(let statuses)? = bodies.first?["statuses"] else { Issue.record("no statuses in \(bodies)"); return }
        let status = statuses.first
        #expect(status?["id"] == .string(message.id))
        #expect(status?["recipient_id"] == .string("15550001111"))
        #expect(status?["status"] == .string("sent"))
        #expect(status?["timestamp"] == .string(String(Int(f.clock.now.seconds))), "stamped by the injected clock")
        #expect(await pipeline.memoryCallbacks.isEmpty)
    }

    /// `webhooks.message.sent: false` (and `sent_status: false`): no `sent` callback, on the
    /// in-memory path as on the stored one; `pass_through`: a delivered message's content is
    /// removed from the database, its id and state stay.
    @Test func theSettingsDecideWhichStatusesAreCalledBackAndPassThroughErasesDeliveredContent() async throws {
        let webhook = FakeWebhook()
        let f = try await ShellFixture(webhooks: webhook)
        let (rt, pipeline) = try await owner(f) { $0.callbackPersist = false; $0.webhooks.message.sent = false; $0.passThrough = true }
        let message = MessageRecord(id: "gBEGmessage2", shard: 0, recipient: "15550001111", body: "secret", idempotencyKey: nil,
                                    state: .accepted, acceptedBy: "c1", acceptedAt: f.clock.now, kind: .text)
        _ = try await f.store.acceptMessages([message])
        try await withSideWork(rt) {
            var ack = GatewayFrame(.ack)
            ack.id = message.id; ack.status = "sent"
            await pipeline.receive(ack)
            var delivered = GatewayFrame(.status)
            delivered.id = message.id; delivered.status = "delivered"
            await pipeline.receive(delivered)
            await pipeline.writeStatuses()
            #expect(await settles { (try? await f.store.message(message.id))?.state == .delivered })
            #expect(await settles { (try? await f.store.message(message.id))?.body == "" }, "pass_through keeps the content")
            #expect(await pipeline.memoryCallbacks.map(\.payload).allSatisfy { !$0.contains("\"sent\"") })
            #expect(await settles { await pipeline.memoryCallbacks.count == 1 })
        }
    }

    /// Statuses are written at the owner's callback pass, all that came since the last one in a
    /// single transaction, or at once when `statusWriteBatch` wait: the message benchmark showed
    /// a write per two or three acknowledgements as the database's largest cost.
    @Test func statusesAreWrittenOncePerPassOrWhenABatchIsFull() async throws {
        let f = try await ShellFixture()
        let (rt, pipeline) = try await owner(f) { _ in }
        let messages = try await stored(MessagePipeline.statusWriteBatch + 50, named: "batch", in: f)
        @Sendable func ack(_ m: MessageRecord, _ status: String) async { await report(status, of: m, to: pipeline) }
        try await withSideWork(rt) {
            let before = f.databaseCalls
            for m in messages.prefix(40) { await ack(m, "sent") }
            for m in messages.prefix(10) { await ack(m, "delivered") }
            #expect(f.databaseCalls == before, "no write before the pass")
            await pipeline.writeStatuses()
            #expect(f.databaseCalls == before + 1, "one transaction for every status of the pass")
            let first = try await f.store.message(messages[0].id), fortieth = try await f.store.message(messages[39].id)
            #expect(first?.state == .delivered && fortieth?.state == .sent)
            let due = try await f.store.dueCallbacks(shard: 0, now: f.clock.now, limit: 500)
            #expect(due.count == 50, "a callback per status: 40 sent, 10 delivered")

            // A full batch does not wait for the pass.
            for m in messages.dropFirst(40).prefix(MessagePipeline.statusWriteBatch) { await ack(m, "sent") }
            #expect(await settles { (try? await f.store.message(messages[40 + MessagePipeline.statusWriteBatch - 1].id))?.state == .sent })
            #expect(await settles { await !pipeline.statusFlushing })
            // What comes after it waits for the next pass again.
            await ack(messages.last!, "sent")
            let after = f.databaseCalls
            let waiting = try await f.store.message(messages.last!.id)
            #expect(waiting?.state == .accepted)
            await pipeline.writeStatuses()
            #expect(f.databaseCalls == after + 2, "the look above and one write")
            let written = try await f.store.message(messages.last!.id)
            #expect(written?.state == .sent)
        }
    }

    /// Found in review: writes retried until the database came back, so a database that was
    /// away held the callback pass and a graceful stop as long as it was away. Every write is
    /// one attempt and a refusal pauses the next; a stopping owner writes each status as it comes.
    @Test func aDatabaseThatIsAwayNeverHoldsTheOwnersLoopsOrItsStop() async throws {
        let f = try await ShellFixture()
        let (rt, pipeline) = try await owner(f) { _ in }
        let messages = try await stored(MessagePipeline.statusWriteBatch + 2, named: "away", in: f)
        @Sendable func ack(_ m: MessageRecord) async { await report("sent", of: m, to: pipeline) }
        try await withSideWork(rt) {
            await ack(messages[0])
            f.cutDatabase()
            let before = f.databaseCalls
            await pipeline.writeStatuses()  // returns: one attempt, refused
            #expect(f.databaseCalls == before + 1)
            await pipeline.writeStatuses()  // within the pause: no attempt
            #expect(f.databaseCalls == before + 1)
            // A full batch is not attempted during the pause either, and nothing waits on it.
            for m in messages.dropFirst().prefix(MessagePipeline.statusWriteBatch) { await ack(m) }
            #expect(await !pipeline.statusFlushing && f.databaseCalls == before + 1)
            f.clock.advance(by: MessagePipeline.statusRetryPause)
            await ack(messages.last!)  // the next status past the pause tries the full batch once
            #expect(await settles { await !pipeline.statusFlushing })
            #expect(f.databaseCalls == before + 2)

            // Stopping while the database is away returns after one attempt.
            await pipeline.stopBatchingStatuses()
            #expect(f.databaseCalls == before + 3)
            f.healDatabase()
            f.clock.advance(by: MessagePipeline.statusRetryPause)
            await pipeline.writeStatuses()
            let first = try await f.store.message(messages[0].id), last = try await f.store.message(messages.last!.id)
            #expect(first?.state == .sent && last?.state == .sent, "kept and written once the database answered")
        }
    }

    @Test func aStoppingOwnerWritesEachStatusAsItComes() async throws {
        let f = try await ShellFixture()
        let (rt, pipeline) = try await owner(f) { _ in }
        let message = MessageRecord(id: "gBEGlate", shard: 0, recipient: "15550004000", body: "hi", idempotencyKey: nil,
                                    state: .accepted, acceptedBy: "c1", acceptedAt: f.clock.now)
        _ = try await f.store.acceptMessages([message])
        try await withSideWork(rt) {
            await pipeline.stopBatchingStatuses()
            var ack = GatewayFrame(.ack)
            ack.id = message.id; ack.status = "sent"
            await pipeline.receive(ack)  // a frame the closing session still delivers
            #expect(await settles { (try? await f.store.message(message.id))?.state == .sent })
        }
    }

    @Test func aTemplateIsAcceptedAndSentWithItsKind() async throws {
        let f = try await ShellFixture()
        let (rt, pipeline) = try await owner(f) { _ in }
        let template = #"{"language":{"code":"en"},"name":"order_update","namespace":"ns"}"#
        try await withSideWork(rt) {
            let id = try await pipeline.accept(to: "15550001111", body: template, kind: .template, idempotencyKey: nil)
            let stored = try #require(try await f.store.message(id))
            #expect(stored.kind == .template && stored.body == template)
            // The same key with another kind is a different message: refused, not merged.
            let keyed = try await pipeline.accept(to: "15550001111", body: "order_update", kind: .text, idempotencyKey: "u/k1")
            await #expect(throws: APIError.self) {
                _ = try await pipeline.accept(to: "15550001111", body: "order_update", kind: .hsm, idempotencyKey: "u/k1")
            }
            #expect(try await f.store.message(keyed)?.kind == .text)
        }
        #expect(MessagePipeline.unsendable(MessageRecord(id: "x", shard: 0, recipient: "15550001111", body: "not json", idempotencyKey: nil,
                                                         state: .accepted, acceptedBy: "c1", acceptedAt: f.clock.now, kind: .template)) != nil)
    }

    /// Found by the suite's nemesis replay on a loaded machine: a group commit slower than the
    /// reconcile horizon left a fresh accept in the pending page, the sync for it went out, then
    /// the fast path sent it; the gateway's "not known" (true when it answered) made reconcile
    /// send it a second time on the same session.
    @Test func aMessageSentWhileASyncIsOutIsNotSentAgainWhenTheAnswerPredatesIt() async throws {
        let f = try await ShellFixture()
        let (rt, pipeline) = try await owner(f) { _ in }
        let message = MessageRecord(id: "gBEGslowcommit", shard: 0, recipient: "15550002222", body: "hi", idempotencyKey: nil,
                                    state: .accepted, acceptedBy: "c1", acceptedAt: f.clock.now)
        _ = try await f.store.acceptMessages([message])
        f.clock.advance(by: 1)  // the commit took longer than the reconcile horizon
        let link = FakeGatewayLink()

        try await withSideWork(rt) {
            let reconcile = Task { await pipeline.sessionUp(link) }
            #expect(await settles { link.frames.contains { $0.type == .sync } }, "reconcile asks the gateway first")
            guard let sync = link.frames.first(where: { $0.type == .sync }) else { return }
            #expect(sync.ids == [message.id])

            await pipeline.send(message, validated: true)  // the commit returns: the fast path sends
            var ack = GatewayFrame(.ack)
            ack.id = message.id; ack.status = "sent"
            await pipeline.receive(ack)
            var answer = GatewayFrame(.syncResult)
            answer.seq = sync.seq; answer.ids = []  // the gateway had not seen it when it answered
            await pipeline.receive(answer)
            await reconcile.value
        }
        #expect(link.sends(of: message.id) == 1, "sent \(link.sends(of: message.id)) times on one session")
    }

    @Test func noMoreThanMaxConcurrentRequestsPostsAreInFlight() async throws {
        let webhook = GatedWebhook()
        let f = try await ShellFixture(webhooks: webhook)
        let (_, pipeline) = try await owner(f) { $0.callbackPersist = false; $0.webhooks.maxConcurrentRequests = 3 }
        for i in 0..<10 { await pipeline.memoryCallback(shard: 0, kind: "inbound", payload: #"{"n":\#(i)}"#) }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await pipeline.deliverCallbacks() }
            var released = 0
            for _ in 0..<20 where released < 10 {  // bounded: a delivery that never posts fails, not hangs
                let expected = min(3, 10 - released)
                let full = await settles(within: 5) { await webhook.waiting >= expected }
                let inFlight = await webhook.waiting
                #expect(full, "only \(inFlight) POSTs in flight, expected \(expected)")
                released += await webhook.releaseAll()
            }
            #expect(released == 10)
            try await group.waitForAll()
        }
        #expect(await webhook.mostInFlight == 3)
        #expect(await pipeline.memoryCallbacks.isEmpty)
    }
}

/// A webhook whose POSTs wait until the test lets them answer, so concurrency can be counted.
actor GatedWebhook: WebhookPoster {
    private var parked: [CheckedContinuation<Int, Never>] = []
    private(set) var mostInFlight = 0
    var waiting: Int { parked.count }

    func post(_ body: Data, to target: WebhookTarget, timeout: Double) async throws -> Int {
        await withCheckedContinuation { c in
            parked.append(c)
            mostInFlight = max(mostInFlight, parked.count)
        }
    }

    func releaseAll() -> Int {
        let all = parked
        parked = []
        for c in all { c.resume(returning: 200) }
        return all.count
    }
}

@Suite("Message ids")
struct MessageIDTests {
    @Test func idsAreTheRandomBitsInUnpaddedBase64URL() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let (a, b) = (rng.next() as UInt64, rng.next() as UInt64)
            var words = (a, b)
            let expected = "gBEG" + withUnsafeBytes(of: &words) { Data($0) }.base64EncodedString()
                .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            #expect(MessageID.make(a, b) == expected)
        }
        #expect(MessageID.make(0, 0) == "gBEGAAAAAAAAAAAAAAAAAAAAAA")
        #expect(MessageID.make(.max, .max) == "gBEG_____________________w")
        #expect(MessageID.make().utf8.count == 26)
    }
}
