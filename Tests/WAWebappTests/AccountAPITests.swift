import Foundation
import Hummingbird
import HummingbirdTesting
import ShellTestKit
import Testing
import WACore
import WAStore
import WAWebapp
import WAWire

/// `POST /v1/account` and `POST /v1/account/verify`: checked by the webapp, forwarded to the
/// primary master (SPEC §4, §6).
@Suite("REST API: account registration")
struct AccountAPITests {
    static let cert = "eyJjYyI6IjEiLCJwaG9uZV9udW1iZXIiOiI2NTA1NTUxMjM0In0="
    static let register = #"{"cc":"1","phone_number":"6505551234","method":"sms","cert":"\#(cert)"}"#

    @Test func registrationIsForwardedToThePrimaryMasterAnd202WhenACodeIsSent() async throws {
        let w = try await WebappFixture()
        let master = try await w.addMaster()
        let seen = Locked<[NodeRPC.Register.Params]>([])
        w.f.peers.answer(NodeRPC.Register.self) { p, _ in
            seen.withLock { $0.append(p) }
            return .init(registered: false, vname: "Fixture Co")
        }
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let r = try await send(client, .post, "/v1/account", headers: bearer(admin),
                                   body: #"{"cc":"1","phone_number":"6505551234","method":"voice","cert":"\#(Self.cert)","pin":"123456"}"#)
            #expect(r.status == .accepted, "\(String(buffer: r.body))")
            #expect(json(r) == .object(["account": .array([.object(["vname": .string("Fixture Co")])])]))
            #expect(w.f.peers.calls(NodeRPC.Register.name).map(\.peer) == [master.rpcAddress])
            let p = try #require(seen.value.first)
            #expect(p.cc == "1" && p.phoneNumber == "6505551234" && p.method == "voice" && p.cert == Self.cert && p.pin == "123456")

            // Without a pin it is forwarded as none.
            #expect(try await send(client, .post, "/v1/account", headers: bearer(admin), body: Self.register).status == .accepted)
            #expect(seen.value.last?.pin == nil && seen.value.last?.method == "sms")
        }
    }

    @Test func anAlreadyVerifiedAccountAnswers201() async throws {
        let w = try await WebappFixture()
        try await w.addMaster()
        w.f.peers.answer(NodeRPC.Register.self) { _, _ in .init(registered: true, vname: "Fixture Co") }
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let r = try await send(client, .post, "/v1/account", headers: bearer(admin), body: Self.register)
            #expect(r.status == .created, "\(String(buffer: r.body))")
            #expect(json(r) == .object([:]))
        }
    }

    @Test func registrationRefusesEveryBadRequestBeforeTheMaster() async throws {
        let w = try await WebappFixture()
        try await w.addMaster()
        w.f.peers.answer(NodeRPC.Register.self) { _, _ in .init(registered: false, vname: "x") }
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let user = try await w.userToken(client, admin: admin)
            let auth = bearer(admin)
            try await expectError(client, .post, "/v1/account", body: Self.register, status: 401, code: 1005)
            try await expectError(client, .post, "/v1/account", headers: bearer("not-a-token"), body: Self.register, status: 401, code: 1005)
            try await expectError(client, .post, "/v1/account", headers: bearer(user), body: Self.register, status: 403, code: 1005, details: "admin")

            func without(_ key: String) -> String {
                var o: [String: String] = ["cc": "1", "phone_number": "6505551234", "method": "sms", "cert": Self.cert]
                o[key] = nil
                return String(data: try! JSONSerialization.data(withJSONObject: o), encoding: .utf8)!
            }
            for key in ["cc", "phone_number", "method", "cert"] {
                try await expectError(client, .post, "/v1/account", headers: auth, body: without(key), status: 400, code: 1008, details: "'\(key)'")
            }
            try await expectError(client, .post, "/v1/account", headers: auth, body: #"{"cc":"1","phone_number":"6505551234","method":"sms","cert":""}"#,
                                  status: 400, code: 1008, details: "'cert'")
            let bad: [(String, String, String)] = [
                ("cc", #"1"#, "expected a string"), ("cc", #""1234""#, "country code"), ("cc", #""1a""#, "country code"), ("cc", #""١""#, "country code"),
                ("phone_number", #"6505551234"#, "expected a string"), ("phone_number", #""123""#, "digits"),
                ("phone_number", #""6505551234567890""#, "digits"), ("phone_number", #""+16505551234""#, "digits"),
                ("method", #""fax""#, "sms"), ("method", #"true"#, "expected a string"),
                ("cert", #""not base64!""#, "base64"), ("cert", "\"\(String(repeating: "A", count: 4097))\"", "base64"),
                ("pin", #""12345""#, "6-digit"), ("pin", #""abcdef""#, "6-digit"), ("pin", #"123456"#, "expected a string"),
            ]
            for (key, value, why) in bad {
                var fields = [#""cc":"1""#, #""phone_number":"6505551234""#, #""method":"sms""#, #""cert":"\#(Self.cert)""#].filter { !$0.hasPrefix("\"\(key)\"") }
                fields.append("\"\(key)\":\(value)")
                let r = try await expectError(client, .post, "/v1/account", headers: auth, body: "{" + fields.joined(separator: ",") + "}", status: 400,
                                              code: 1009, details: "'\(key)'")
                #expect(String(buffer: r.body).contains(why), "\(key)=\(value): \(String(buffer: r.body))")
            }
            try await expectError(client, .post, "/v1/account", headers: auth,
                                  body: #"{"cc":"1","phone_number":"6505551234","method":"sms","cert":"\#(Self.cert)","vname":"x"}"#,
                                  status: 400, code: 1009, details: "'vname'")
            try await expectError(client, .post, "/v1/account", headers: auth, body: "", status: 400, code: 1025)
            try await expectError(client, .post, "/v1/account", headers: auth, body: "{cc:1}", status: 400, code: 1025)
            try await expectError(client, .post, "/v1/account", headers: auth, body: "null", status: 400, code: 1025)
            try await expectError(client, .post, "/v1/account", headers: auth, body: String(repeating: "[", count: (1 << 20) + 1), status: 413, code: 1025)
            for method in [HTTPRequest.Method.get, .put, .delete, .patch] {
                let r = try await expectError(client, method, "/v1/account", headers: auth, status: 405, code: 1025)
                #expect(r.headers[.allow] == "POST")
            }
            #expect(w.f.peers.calls(NodeRPC.Register.name).isEmpty, "a refused request reached the master")
        }
    }

    @Test func withoutAReachablePrimaryMasterTheAnswerIs403ToRetry() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            // No lease at all.
            try await expectError(client, .post, "/v1/account", headers: bearer(admin), body: Self.register, status: 403, code: 1011, details: "retry")
            try await expectError(client, .post, "/v1/account/verify", headers: bearer(admin), body: #"{"code":"123456"}"#, status: 403, code: 1011)
            // A lease whose holder has no node row.
            _ = try await w.f.store.acquireMasterLease(node: "m9", ttl: 600)
            try await expectError(client, .post, "/v1/account", headers: bearer(admin), body: Self.register, status: 403, code: 1011, details: "retry")
        }
    }

    @Test func aMasterThatDoesNotAnswerIs403ToRetry() async throws {
        let w = try await WebappFixture()
        try await w.addMaster()
        w.f.peers.answer(NodeRPC.Register.self) { _, peer in throw FixtureError("fake: \(peer) is down") }
        w.f.peers.answer(NodeRPC.Verify.self) { _, peer in throw FixtureError("fake: \(peer) is down") }
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            try await expectError(client, .post, "/v1/account", headers: bearer(admin), body: Self.register, status: 403, code: 1011, details: "did not answer")
            try await expectError(client, .post, "/v1/account/verify", headers: bearer(admin), body: #"{"code":"123456"}"#, status: 403, code: 1011,
                                  details: "did not answer")
        }
    }

    @Test func theMastersRefusalsReachTheClientAsTheyAre() async throws {
        let w = try await WebappFixture()
        try await w.addMaster()
        let answer = Locked<APIError>(APIError(.notPrimaryMaster, "this master is not the primary master; retry the request", status: 403))
        w.f.peers.answer(NodeRPC.Register.self) { _, _ in throw answer.value }
        w.f.peers.answer(NodeRPC.Verify.self) { _, _ in throw answer.value }
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            try await expectError(client, .post, "/v1/account", headers: bearer(admin), body: Self.register, status: 403, code: 1017, details: "primary master")
            answer.withLock { $0 = APIError(.parameterInvalid, "Parameter 'cert' is not valid: the client is logged off; call again with the right cert", status: 403) }
            try await expectError(client, .post, "/v1/account", headers: bearer(admin), body: Self.register, status: 403, code: 1009, details: "logged off")
            answer.withLock { $0 = APIError(.alreadyExists, "this cluster is already registered for +1 6505550000", status: 409) }
            try await expectError(client, .post, "/v1/account", headers: bearer(admin), body: Self.register, status: 409, code: 1004)
            answer.withLock { $0 = APIError.conflict("code", "no registration is in progress; POST /v1/account first") }
            try await expectError(client, .post, "/v1/account/verify", headers: bearer(admin), body: #"{"code":"123456"}"#, status: 409, code: 1009,
                                  details: "'code'")
            answer.withLock { $0 = APIError(.serviceNotReady, "the WhatsApp server is unreachable", status: 503) }
            try await expectError(client, .post, "/v1/account/verify", headers: bearer(admin), body: #"{"code":"123456"}"#, status: 503, code: 1011)
        }
    }

    @Test func verificationForwardsTheSixDigitsAndAnswers201() async throws {
        let w = try await WebappFixture()
        let master = try await w.addMaster()
        let codes = Locked<[String]>([])
        w.f.peers.answer(NodeRPC.Verify.self) { p, _ in codes.withLock { $0.append(p.code) }; return Empty() }
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            for code in ["123-456", "654321"] {
                let r = try await send(client, .post, "/v1/account/verify", headers: bearer(admin), body: #"{"code":"\#(code)"}"#)
                #expect(r.status == .created, "\(String(buffer: r.body))")
                #expect(json(r) == .object([:]))
            }
            #expect(codes.value == ["123456", "654321"])
            #expect(w.f.peers.calls(NodeRPC.Verify.name).map(\.peer) == [master.rpcAddress, master.rpcAddress])
        }
    }

    @Test func verificationRefusesEveryBadRequestBeforeTheMaster() async throws {
        let w = try await WebappFixture()
        try await w.addMaster()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let user = try await w.userToken(client, admin: admin)
            let auth = bearer(admin)
            try await expectError(client, .post, "/v1/account/verify", body: #"{"code":"123456"}"#, status: 401, code: 1005)
            try await expectError(client, .post, "/v1/account/verify", headers: bearer("x"), body: #"{"code":"123456"}"#, status: 401, code: 1005)
            try await expectError(client, .post, "/v1/account/verify", headers: bearer(user), body: #"{"code":"123456"}"#, status: 403, code: 1005,
                                  details: "admin")
            try await expectError(client, .post, "/v1/account/verify", headers: auth, body: "{}", status: 400, code: 1008, details: "'code'")
            try await expectError(client, .post, "/v1/account/verify", headers: auth, body: #"{"code":""}"#, status: 400, code: 1008, details: "'code'")
            for code in [#"123456"#, #""12345""#, #""1234567""#, #""12-3456""#, #""abcdef""#, #""١٢٣٤٥٦""#, #""123 456""#, #"null"#] {
                try await expectError(client, .post, "/v1/account/verify", headers: auth, body: #"{"code":\#(code)}"#, status: 400, code: 1009,
                                      details: "'code'")
            }
            try await expectError(client, .post, "/v1/account/verify", headers: auth, body: #"{"code":"123456","cc":"1"}"#, status: 400, code: 1009,
                                  details: "'cc'")
            try await expectError(client, .post, "/v1/account/verify", headers: auth, status: 400, code: 1025, details: "empty")
            try await expectError(client, .post, "/v1/account/verify", headers: auth, body: "{\"code\":", status: 400, code: 1025)
            try await expectError(client, .post, "/v1/account/verify", headers: auth, body: "[]", status: 400, code: 1025)
            try await expectError(client, .post, "/v1/account/verify", headers: auth, body: #"{"code":"\#(String(repeating: "1", count: 1 << 20))"}"#,
                                  status: 413, code: 1025)
            for method in [HTTPRequest.Method.get, .put, .delete, .patch] {
                let r = try await expectError(client, method, "/v1/account/verify", headers: auth, status: 405, code: 1025)
                #expect(r.headers[.allow] == "POST")
            }
            #expect(w.f.peers.calls(NodeRPC.Verify.name).isEmpty, "a refused request reached the master")
        }
    }

    @Test func registrationNeedsTheSchema() async throws {
        let w = try await WebappFixture(schemaReady: false)
        try await w.addMaster()
        let admin = try await w.plantToken(for: "admin")
        try await w.test { client in
            try await expectError(client, .post, "/v1/account", headers: bearer(admin), body: Self.register, status: 503, code: 1011, details: "schema")
            try await expectError(client, .post, "/v1/account/verify", headers: bearer(admin), body: #"{"code":"123456"}"#, status: 503, code: 1011)
            #expect(w.f.peers.calls.isEmpty)
        }
    }
}
