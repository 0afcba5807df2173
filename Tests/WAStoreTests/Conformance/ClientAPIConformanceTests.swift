import Foundation
import Testing
import WACore
import WAStore

/// What the API as clients use it needs from every backend: template messages, the time of
/// registration, pass_through, the settings' callback switches, and the profile's documents.
@Suite("Storage contract: templates, registration time, pass_through, documents")
struct ClientAPIConformanceTests {
    @Test(arguments: Backend.all)
    func aTemplateMessageKeepsItsKindThroughEveryRead(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            var template = message("t1", shard: 0)
            template.kind = .template
            template.body = #"{"language":{"code":"en"},"name":"order_update","namespace":"ns"}"#
            #expect(try await s.a.acceptMessages([template, message("x1", shard: 0)]) == ["t1", "x1"])
            #expect(try await s.b.message("t1") == template)
            #expect(try await s.b.message("x1")?.kind == .text)
            let page = try await s.b.pendingMessages(shard: 0, limit: 10)
            #expect(page.first { $0.id == "t1" } == template)
        }
    }

    @Test(arguments: Backend.all)
    func theAccountKeepsWhenItWasRegisteredAndItsLoggedOffState(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let g = try await becomePrimary(s, s.a, "m1", at: t(0))
            var a = AccountRecord(cc: "1", phoneNumber: "6505550100", vname: "Acme", state: .registered, shards: 1, registeredAt: t(3))
            #expect(try await s.a.saveAccount(a, guard: g))
            #expect(try await s.b.account() == a)
            a.state = .loggedOff
            #expect(try await s.a.saveAccount(a, guard: g))
            #expect(try await s.b.account()?.state == .loggedOff)
            #expect(try await s.b.account()?.registeredAt == t(3))
        }
    }

    @Test(arguments: Backend.all)
    func passThroughErasesOnlyTheContentOfMessagesThatArrived(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            _ = try await s.a.acceptMessages([message("m1", shard: 0, key: "k1"), message("m2", shard: 0), message("m3", shard: 0)])
            _ = try await s.a.applyStatuses([.init(id: "m1", state: .delivered), .init(id: "m2", state: .sent)], at: t(1), callbacks: nil)
            try await s.b.eraseDeliveredContent(["m1", "m2", "m3"])
            #expect(try await s.a.message("m1")?.body == "")
            #expect(try await s.a.message("m1")?.state == .delivered)
            #expect(try await s.a.message("m2")?.body == message("m2", shard: 0).body)
            #expect(try await s.a.message("m3")?.body == message("m3", shard: 0).body)
            // The key still answers the first id: a retry is not sent again.
            #expect(try await s.b.acceptMessages([message("m9", shard: 0, key: "k1")]) == ["m1"])
            try await s.b.eraseDeliveredContent([])
        }
    }

    @Test(arguments: Backend.all)
    func silencedStatesQueueNoCallback(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            _ = try await s.a.acceptMessages([message("m1", shard: 0), message("m2", shard: 0)])
            let stamp = CallbackStamp(unixTime: 1_800_000_000, silenced: [.sent])
            let moved = try await s.b.applyStatuses([.init(id: "m1", state: .sent), .init(id: "m2", state: .delivered)], at: t(1), callbacks: stamp)
            // Both moved; only the delivered one is called back.
            #expect(moved.map(\.id) == ["m1", "m2"])
            let due = try await s.a.dueCallbacks(shard: 0, now: t(5), limit: 10)
            #expect(due.count == 1)
            #expect(due.first?.payload.contains("\"m2\"") == true)
        }
    }

    @Test(arguments: Backend.all)
    func documentsAreSavedReplacedAndRemoved(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            #expect(try await s.a.document("profile.about") == nil)
            try await s.a.saveDocument("profile.about", body: "first")
            try await s.b.saveDocument("profile.about", body: "second ✓")
            #expect(try await s.a.document("profile.about") == "second ✓")
            try await s.a.saveDocument("business.profile", body: #"{"address":"1 Way"}"#)
            try await s.b.saveDocument("profile.about", body: nil)
            #expect(try await s.a.document("profile.about") == nil)
            #expect(try await s.b.document("business.profile") == #"{"address":"1 Way"}"#)
        }
    }
}
