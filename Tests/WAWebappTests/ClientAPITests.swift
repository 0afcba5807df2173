import Foundation
import Hummingbird
import HummingbirdTesting
import ShellTestKit
import Testing
import WACore
import WAStore
import WAWebapp
import WAWire

/// The API as real clients use it (the calls wabclient, a 2019 client from PyPI, makes):
/// templates and `hsm`, groups refused as the product does, contacts, profile, backup and
/// restore, shards without cert, and settings with the product's coercions.
@Suite("REST API: as clients use it")
struct ClientAPITests {
    /// A registered account on a primary master, wacore1 owning shard 0, a webhook set.
    func registered() async throws -> WebappFixture {
        let w = try await WebappFixture()
        try await w.addMaster()
        try await w.addCoreapp()
        try await w.f.registerAccount(holder: "m1")
        let lease = try await w.f.store.masterLease()
        _ = try await w.f.store.assignShard(0, to: "c1", guard: MasterGuard(nodeID: "m1", term: lease.lease.term))
        var s = ApplicationSettings()
        s.webhooks.url = "http://127.0.0.1:9/hook"
        _ = try await w.f.store.saveSettings(s)
        try await w.rt.refreshSettings()
        return w
    }

    @Test func templatesAndHSMAreRoutedWithTheirKindAndGroupsAreRefusedAsTheProductDoes() async throws {
        let w = try await registered()
        let sent = Locked<[NodeRPC.SendMessage.Params]>([])
        w.f.peers.answer(NodeRPC.SendMessage.self) { p, _ in sent.withLock { $0.append(p) }; return .init(id: "gBEG\(sent.value.count)") }
        try await w.test { client in
            let auth = bearer(try await loginAsAdmin(client))
            // wabclient's text: preview_url beside recipient_type, to, type, text.
            let text = #"{"preview_url":true,"recipient_type":"individual","to":"+15550001111","type":"text","text":{"body":"see https://example.com"}}"#
            #expect(try await send(client, .post, "/v1/messages", headers: auth, body: text).status == .created)
            let template = #"{"to":"15550001111","type":"template","template":{"namespace":"ns","name":"order_update","language":{"policy":"deterministic","code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"Ada"}]}]}}"#
            #expect(try await send(client, .post, "/v1/messages", headers: auth, body: template).status == .created)
            let hsm = #"{"to":"15550001111","type":"hsm","hsm":{"namespace":"ns","element_name":"order_update","language":{"policy":"fallback","code":"en"},"localizable_params":[{"default":"Ada"}]}}"#
            #expect(try await send(client, .post, "/v1/messages", headers: auth, body: hsm).status == .created)
            #expect(sent.value.map(\.kind) == [.text, .template, .hsm])
            #expect(sent.value[0].body == "see https://example.com")
            let stored = try JSONValue.parse(Data(sent.value[1].body.utf8))
            #expect(stored["name"] == .string("order_update") && stored["language"]?["code"] == .string("en"))

            try await expectError(client, .post, "/v1/messages", headers: auth,
                                  body: #"{"recipient_type":"group","to":"15550001111","type":"text","text":{"body":"x"}}"#, status: 400, code: 1002, details: "group")
            try await expectError(client, .post, "/v1/messages", headers: auth, body: #"{"to":"15550001111","type":"image","image":{"id":"x"}}"#,
                                  status: 400, code: 1009, details: "'image'")
            try await expectError(client, .post, "/v1/messages", headers: auth, body: #"{"to":"15550001111","type":"video"}"#, status: 400, code: 1009, details: "'type'")
            try await expectError(client, .post, "/v1/messages", headers: auth, body: #"{"to":"15550001111","preview_url":"yes","text":{"body":"x"}}"#,
                                  status: 400, code: 1009, details: "'preview_url'")
            try await expectError(client, .post, "/v1/messages", headers: auth, body: #"{"to":"15550001111","type":"template","template":{"namespace":"ns","name":"n"}}"#,
                                  status: 400, code: 1008, details: "'template.language'")
            try await expectError(client, .post, "/v1/messages", headers: auth, body: #"{"to":"15550001111","type":"template"}"#, status: 400, code: 1008, details: "'template'")
            try await expectError(client, .post, "/v1/messages", headers: auth,
                                  body: #"{"to":"15550001111","type":"template","text":{"body":"x"},"template":{"namespace":"ns","name":"n","language":{"code":"en"}}}"#,
                                  status: 400, code: 1009, details: "'text'")
            try await expectError(client, .post, "/v1/messages", headers: auth,
                                  body: #"{"to":"15550001111","type":"hsm","hsm":{"namespace":"ns","element_name":"n","language":{"code":"en","policy":"always"}}}"#,
                                  status: 400, code: 1009, details: "'hsm.language.policy'")
            try await expectError(client, .post, "/v1/messages", headers: auth,
                                  body: #"{"to":"15550001111","type":"template","template":{"namespace":"ns","name":"n","language":{"code":"en"},"colour":"red"}}"#,
                                  status: 400, code: 1009, details: "'template.colour'")
            let long = String(repeating: "p", count: 4100)
            try await expectError(client, .post, "/v1/messages", headers: auth,
                                  body: #"{"to":"15550001111","type":"template","template":{"namespace":"ns","name":"n","language":{"code":"en"},"components":[{"type":"body","parameters":[{"type":"text","text":"\#(long)"}]}]}}"#,
                                  status: 400, code: 1001)
            #expect(sent.value.count == 3, "a refused request reached the owner")
        }
    }

    @Test func theClientLibrarysSettingsAreTakenAndTheRegisteredNumberIsShown() async throws {
        let w = try await registered()
        try await w.test { client in
            let auth = bearer(try await loginAsAdmin(client))
            let patch = #"{"on_call_pager":"+16505550999","webhooks":{"url":"https://hooks.example/wa"},"callback_persist":true,"callback_backoff_delay_ms":"3000","max_callback_backoff_delay_ms":"900000","pass_through":false,"sent_status":false,"tcp_listen_address":"any","heartbeat_interval":5,"unhealthy_interval":30}"#
            let r = try await send(client, .patch, "/v1/settings/application", headers: auth, body: patch)
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            let got = json(try await send(client, .get, "/v1/settings/application", headers: auth))?["settings"]?["application"]
            #expect(got?["callback_backoff_delay_ms"] == .number(3000))
            #expect(got?["on_call_pager"] == .string("16505550999"))
            #expect(got?["wa_id"] == .string("16505551234"))
            #expect(got?["webhooks"]?["message"]?["sent"] == .bool(true))
            try await expectError(client, .patch, "/v1/settings/application", headers: auth, body: #"{"callback_backoff_delay_ms":"3s"}"#,
                                  status: 400, code: 1009, details: "'callback_backoff_delay_ms'")
            try await expectError(client, .patch, "/v1/settings/application", headers: auth, body: #"{"wa_id":"1"}"#, status: 400, code: 1009, details: "read-only")
            try await expectError(client, .patch, "/v1/settings/application", headers: auth, body: #"{"colour":"red"}"#, status: 400, code: 1009, details: "'colour'")
        }
    }

    @Test func contactsAreForwardedToThePrimaryMasterAndBadOnesRefusedBefore() async throws {
        let w = try await registered()
        let asked = Locked<[NodeRPC.CheckContacts.Params]>([])
        w.f.peers.answer(NodeRPC.CheckContacts.self) { p, _ in
            asked.withLock { $0.append(p) }
            return .init(contacts: p.contacts.map { .init(input: $0, status: "valid", waID: RequestRules.contactID($0)) })
        }
        try await w.test { client in
            let auth = bearer(try await loginAsAdmin(client))
            let r = try await send(client, .post, "/v1/contacts", headers: auth, body: #"{"blocking":"wait","contacts":["+1 650 555 0101"]}"#)
            #expect(r.status == .ok)
            #expect(json(r) == .object(["contacts": .array([.object(["input": .string("+1 650 555 0101"), "status": .string("valid"), "wa_id": .string("16505550101")])])]))
            #expect(asked.value.map(\.wait) == [true])
            _ = try await send(client, .post, "/v1/contacts", headers: auth, body: #"{"contacts":["16505550101"]}"#)
            #expect(asked.value.map(\.wait) == [true, false], "no_wait is the product's default")
            try await expectError(client, .post, "/v1/contacts", headers: auth, body: #"{"blocking":"soon","contacts":["1"]}"#, status: 400, code: 1009, details: "'blocking'")
            try await expectError(client, .post, "/v1/contacts", headers: auth, body: #"{"blocking":"wait"}"#, status: 400, code: 1008, details: "'contacts'")
            try await expectError(client, .post, "/v1/contacts", headers: auth, body: #"{"contacts":[16505550101]}"#, status: 400, code: 1009, details: "'contacts[0]'")
            try await expectError(client, .post, "/v1/contacts", headers: auth, body: #"{"contacts":[]}"#, status: 400, code: 1009, details: "'contacts'")
            try await expectError(client, .post, "/v1/contacts", body: #"{"contacts":["1"]}"#, status: 401, code: 1005)
            #expect(asked.value.count == 2)
        }
    }

    @Test func theProfileIsStoredAndReturned() async throws {
        let w = try await registered()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let auth = bearer(admin)
            let user = bearer(try await w.userToken(client, admin: admin))
            #expect(json(try await send(client, .get, "/v1/settings/profile/about", headers: auth))?["settings"]?["profile"]?["about"]?["text"] == .string(""))
            #expect(try await send(client, .patch, "/v1/settings/profile/about", headers: auth, body: #"{"text":"Replica"}"#).status == .ok)
            #expect(json(try await send(client, .get, "/v1/settings/profile/about", headers: user))?["settings"]?["profile"]?["about"]?["text"] == .string("Replica"))
            try await expectError(client, .patch, "/v1/settings/profile/about", headers: auth, body: #"{"text":"\#(String(repeating: "a", count: 140))"}"#,
                                  status: 400, code: 1009, details: "139")
            try await expectError(client, .patch, "/v1/settings/profile/about", headers: user, body: #"{"text":"x"}"#, status: 403, code: 1005)

            try await expectError(client, .get, "/v1/settings/profile/photo", headers: auth, status: 404, code: 1006)
            let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3]
            var h = auth
            h[.contentType] = "image/png"
            let up = try await client.execute(uri: "/v1/settings/profile/photo", method: .post, headers: h, body: ByteBuffer(bytes: png))
            #expect(up.status == .created)
            let photo = try await send(client, .get, "/v1/settings/profile/photo", headers: auth)
            #expect(photo.status == .ok && Array(photo.body.readableBytesView) == png && photo.headers[.contentType] == "image/png")
            try await expectError(client, .post, "/v1/settings/profile/photo", headers: auth, body: "GIF89a", status: 400, code: 1009, details: "JPEG or PNG")

            let profile = #"{"address":"1 Replica Way","description":null,"email":"ops@example.com","vertical":"Testing","websites":["https://example.com"]}"#
            #expect(try await send(client, .post, "/v1/settings/business/profile", headers: auth, body: profile).status == .ok)
            #expect(try await send(client, .post, "/v1/settings/business/profile", headers: auth, body: #"{"vertical":"Retail"}"#).status == .ok)
            let got = json(try await send(client, .get, "/v1/settings/business/profile", headers: user))?["settings"]?["business"]?["profile"]
            #expect(got == .object(["address": .string("1 Replica Way"), "description": .string(""), "email": .string("ops@example.com"),
                                    "vertical": .string("Retail"), "websites": .array([.string("https://example.com")])]))
            try await expectError(client, .post, "/v1/settings/business/profile", headers: auth,
                                  body: #"{"websites":["https://a.example","https://b.example","https://c.example"]}"#, status: 400, code: 1009, details: "'websites'")
            try await expectError(client, .post, "/v1/settings/business/profile", headers: auth, body: #"{"email":"nobody"}"#, status: 400, code: 1009, details: "'email'")
            try await expectError(client, .post, "/v1/settings/business/profile", headers: auth, body: #"{"colour":"red"}"#, status: 400, code: 1009, details: "'colour'")
        }
    }

    @Test func aBackupRestoresSettingsProfileAndAccountAndAWrongPasswordIsRefused() async throws {
        let w = try await registered()
        let restored = Locked<[NodeRPC.RestoreAccount.Params]>([])
        w.f.peers.answer(NodeRPC.RestoreAccount.self) { p, _ in restored.withLock { $0.append(p) }; return Empty() }
        try await w.test { client in
            let auth = bearer(try await loginAsAdmin(client))
            _ = try await send(client, .patch, "/v1/settings/application", headers: auth, body: #"{"callback_backoff_delay_ms":2000}"#)
            _ = try await send(client, .patch, "/v1/settings/profile/about", headers: auth, body: #"{"text":"Before"}"#)
            let b = try await send(client, .post, "/v1/settings/backup", headers: auth, body: #"{"password":"Backup-Pass-1"}"#)
            #expect(b.status == .ok)
            let data = try #require(json(b)?["settings"]?["data"]?.stringValue)
            #expect(!data.contains("Before"), "the backup is sealed")

            _ = try await send(client, .patch, "/v1/settings/application", headers: auth, body: #"{"callback_backoff_delay_ms":5000}"#)
            _ = try await send(client, .patch, "/v1/settings/profile/about", headers: auth, body: #"{"text":"After"}"#)
            try await expectError(client, .post, "/v1/settings/restore", headers: auth, body: #"{"password":"Wrong-Pass-1","data":"\#(data)"}"#,
                                  status: 403, code: 1005, details: "password")
            try await expectError(client, .post, "/v1/settings/restore", headers: auth, body: #"{"password":"Backup-Pass-1","data":"bm90IGEgYmFja3Vw"}"#,
                                  status: 400, code: 1009, details: "'data'")
            try await expectError(client, .post, "/v1/settings/backup", headers: auth, body: #"{"password":"short"}"#, status: 400, code: 1009, details: "'password'")
            #expect(try await w.f.store.settings().settings.callbackBackoffDelayMs == 5000, "a refused restore changed the settings")

            let r = try await send(client, .post, "/v1/settings/restore", headers: auth, body: #"{"password":"Backup-Pass-1","data":"\#(data)"}"#)
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            #expect(try await w.f.store.settings().settings.callbackBackoffDelayMs == 2000)
            #expect(try await w.f.store.document("profile.about") == "Before")
            #expect(restored.value.map { "\($0.cc) \($0.phoneNumber) \($0.shards)" } == ["1 6505551234 1"])
        }
    }

    @Test func aShardChangeWithoutCertIsForwardedForTheMasterToJudge() async throws {
        let w = try await registered()
        let seen = Locked<[NodeRPC.SetShards.Params]>([])
        w.f.peers.answer(NodeRPC.SetShards.self) { p, _ in seen.withLock { $0.append(p) }; return Empty() }
        try await w.test { client in
            let auth = bearer(try await loginAsAdmin(client))
            // wabclient sends "pin": null for a number without two-step verification.
            let r = try await send(client, .post, "/v1/account/shards", headers: auth, body: #"{"cc":"1","phone_number":"6505551234","shards":2,"pin":null}"#)
            #expect(r.status == .created, "\(String(buffer: r.body))")
            #expect(seen.value.map { $0.cert == nil && $0.pin == nil && $0.shards == 2 } == [true])
        }
    }
}
