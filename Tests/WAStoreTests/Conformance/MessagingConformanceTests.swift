import Foundation
import Testing
import WACore
import WAStore

@Suite("Storage contract: messages, statuses, callbacks and inbound")
struct MessagingConformanceTests {
    @Test(arguments: Backend.all)
    func acceptedMessagesAreDurableAndIdempotencyKeysReturnTheFirstID(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let ids = try await s.a.acceptMessages([message("m1", shard: 0, key: "k1"), message("m2", shard: 0),
                                                    message("m3", shard: 0, key: "k1"), message("m4", shard: 1, key: "k2")])
            // The repeated key within the batch answers the first message's id.
            #expect(ids == ["m1", "m2", "m1", "m4"])
            // Across batches and clients too; the retry is not stored again.
            #expect(try await s.b.acceptMessages([message("m5", shard: 0, key: "k2"), message("m6", shard: 0, key: "k3")]) == ["m4", "m6"])
            #expect(try await s.b.message("m3") == nil)
            #expect(try await s.b.message("m5") == nil)
            let m1 = try #require(try await s.b.message("m1"))
            #expect(m1 == message("m1", shard: 0, key: "k1"))
            #expect(try await s.a.pendingMessages(shard: 0, limit: 10).map(\.id).sorted() == ["m1", "m2", "m6"])
            #expect(try await s.a.dbStats().messagesPending == 4)
        }
    }

    @Test(arguments: Backend.all)
    func pendingMessagesComeOldestFirstUpToTheLimit(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            _ = try await s.a.acceptMessages((0..<20).map { message("m\($0)", shard: $0 % 2, at: Double(20 - $0)) })
            let page = try await s.b.pendingMessages(shard: 0, limit: 3)
            #expect(page.map(\.id) == ["m18", "m16", "m14"])
            #expect(try await s.b.pendingMessages(shard: 1, limit: 100).count == 10)
        }
    }

    @Test(arguments: Backend.all)
    func statusesOnlyMoveForwardAndQueueOneCallbackEachWithTheRecipient(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            _ = try await s.a.acceptMessages([message("m1", shard: 0, to: "15550001111"), message("m2", shard: 1, to: "15550002222")])
            let stamp = CallbackStamp(unixTime: 1_800_000_000)
            let moved = try await s.a.applyStatuses([StatusUpdate(id: "m1", state: .delivered), StatusUpdate(id: "m2", state: .sent),
                                                     StatusUpdate(id: "nope", state: .sent)], at: t(1), callbacks: stamp)
            // Answered state by state, lowest first.
            #expect(moved == [StatusChange(id: "m2", shard: 1, recipient: "15550002222", state: .sent),
                              StatusChange(id: "m1", shard: 0, recipient: "15550001111", state: .delivered)])
            // A late "sent" never overwrites "delivered"; no callback for what did not move.
            #expect(try await s.b.applyStatuses([StatusUpdate(id: "m1", state: .sent)], at: t(2), callbacks: stamp) == [])
            #expect(try await s.b.message("m1")?.state == .delivered)
            let due = try await s.b.dueCallbacks(shard: 0, now: t(5), limit: 10)
            #expect(due.count == 1)
            let payload = try JSONValue.parse(Data(try #require(due.first).payload.utf8))
            #expect(payload == .object(["statuses": .array([.object(["id": .string("m1"), "recipient_id": .string("15550001111"),
                                                                     "status": .string("delivered"), "timestamp": .string("1800000000")])])]))
            // Without a stamp statuses move but queue nothing (callbacks kept in memory instead).
            #expect(try await s.a.applyStatuses([StatusUpdate(id: "m2", state: .read)], at: t(3), callbacks: nil).count == 1)
            #expect(try await s.b.dueCallbacks(shard: 1, now: t(5), limit: 10).count == 1)
            let stats = try await s.a.dbStats()
            #expect(stats.messagesDelivered == 1 && stats.messagesRead == 1 && stats.messagesPending == 0 && stats.callbacksPending == 2)
        }
    }

    @Test(arguments: Backend.all)
    func callbacksAreDueInOrderRetriedLaterAndCompleted(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            for i in 0..<3 { try await s.a.enqueueCallback(shard: 0, kind: "inbound", payload: "{\"n\":\(i)}", at: t(Double(i))) }
            try await s.a.enqueueCallback(shard: 1, kind: "inbound", payload: "{}", at: t(0))
            let due = try await s.b.dueCallbacks(shard: 0, now: t(1), limit: 10)
            #expect(due.map(\.payload) == ["{\"n\":0}", "{\"n\":1}"])
            #expect(due.allSatisfy { $0.attempts == 0 && $0.kind == "inbound" })
            try await s.b.retryCallbacks([CallbackRetry(id: due[0].id, attempts: 1, nextAttemptAt: t(10))], error: "webhook answered 500")
            #expect(try await s.a.dueCallbacks(shard: 0, now: t(5), limit: 10).map(\.payload) == ["{\"n\":1}", "{\"n\":2}"])
            let later = try await s.a.dueCallbacks(shard: 0, now: t(10), limit: 10)
            #expect(later.count == 3 && later.first?.attempts == 1)
            #expect(try await s.a.dueCallbacks(shard: 0, now: t(10), limit: 2).count == 2)
            try await s.b.completeCallbacks(later.map(\.id))
            #expect(try await s.a.dueCallbacks(shard: 0, now: t(100), limit: 10).isEmpty)
            #expect(try await s.a.dueCallbacks(shard: 1, now: t(100), limit: 10).count == 1)
            try await s.b.completeCallbacks([])
        }
    }

    @Test(arguments: Backend.all)
    func inboundMessagesAreStoredOnce(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            #expect(try await s.a.recordInbound(id: "ABGG1", shard: 0, sender: "15551234567", body: "hi", at: t(1)))
            #expect(try await s.b.recordInbound(id: "ABGG1", shard: 0, sender: "15551234567", body: "hi", at: t(2)) == false)
            #expect(try await s.a.recordInbound(id: "ABGG2", shard: 1, sender: "15551234567", body: "hello", at: t(3)))
            #expect(try await s.b.dbStats().inboundMessages == 2)
        }
    }

    @Test(arguments: Backend.all)
    func aBatchMovesAMessageThroughEveryStateItNames(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            _ = try await s.a.acceptMessages([message("m1", shard: 0)])
            let moved = try await s.a.applyStatuses([StatusUpdate(id: "m1", state: .delivered), StatusUpdate(id: "m1", state: .sent),
                                                     StatusUpdate(id: "m1", state: .delivered)], at: t(1), callbacks: CallbackStamp(unixTime: 1))
            #expect(moved.map(\.state) == [.sent, .delivered])
            #expect(try await s.b.dueCallbacks(shard: 0, now: t(1), limit: 10).count == 2)
        }
    }

    /// Keyed messages go in a hundred per statement: a key stored before, in any of those
    /// statements, still answers its first message's id, and a key repeated in the batch too.
    @Test(arguments: Backend.all)
    func aBigKeyedBatchKeepsEveryKeysFirstIDAcrossStatements(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            _ = try await s.a.acceptMessages((0..<50).map { message("old\($0)", shard: 0, key: "k\($0 * 5)") })
            let batch = (0..<250).map { message("new\($0)", shard: 0, key: "k\($0)") } + [message("again", shard: 0, key: "k1")]
            let ids = try await s.b.acceptMessages(batch)
            #expect(ids == (0..<250).map { $0 % 5 == 0 ? "old\($0 / 5)" : "new\($0)" } + ["new1"])
            #expect(try await s.a.dbStats().messagesPending == 250)
            #expect(try await s.a.message("new5") == nil)
            #expect(try await s.a.message("again") == nil)
        }
    }

    @Test(arguments: Backend.all)
    func aBigBatchCommitsWhole(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let batch = (0..<500).map { message("b\($0)", shard: $0 % 4, key: $0 % 10 == 0 ? "key\($0)" : nil) }
            let ids = try await s.a.acceptMessages(batch)
            #expect(ids == batch.map(\.id))
            let updates = batch.map { StatusUpdate(id: $0.id, state: .sent) }
            #expect(try await s.b.applyStatuses(updates, at: t(1), callbacks: CallbackStamp(unixTime: 1)).count == 500)
            #expect(try await s.a.dbStats().callbacksPending == 500)
        }
    }
}
