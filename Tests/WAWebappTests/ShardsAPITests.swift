import Foundation
import Hummingbird
import HummingbirdTesting
import ShellTestKit
import Testing
import WACore
import WAStore
import WAWebapp
import WAWire

/// `GET /v1/account/shards` (read from the DB) and `POST /v1/account/shards` (forwarded to the
/// primary master): SPEC §3 "Shard count change" and §6.
@Suite("REST API: shards")
struct ShardsAPITests {
    static let cert = AccountAPITests.cert
    static func body(shards: String, pin: String? = nil) -> String {
        #"{"cc":"1","phone_number":"6505551234","shards":\#(shards),"cert":"\#(cert)"\#(pin.map { #","pin":"\#($0)""# } ?? "")}"#
    }

    @Test func anyUserReadsTheShardCountFromTheDatabase() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let user = try await w.userToken(client, admin: admin)
            for token in [admin, user] {
                let r = try await send(client, .get, "/v1/account/shards", headers: bearer(token))
                #expect(r.status == .ok, "\(String(buffer: r.body))")
                #expect(json(r) == .object(["account": .object(["shards": .number(1)])]), "no account yet: the HA case")
            }
            try await w.addMaster()
            try await w.f.registerAccount(shards: 4, holder: "m1")
            let r = try await send(client, .get, "/v1/account/shards", headers: bearer(user))
            #expect(json(r) == .object(["account": .object(["shards": .number(4)])]))
        }
    }

    @Test func readingTheShardCountRefusesWhatTheSpecRefuses() async throws {
        let w = try await WebappFixture(apiKey: "fixture-api-key")
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            try await expectError(client, .get, "/v1/account/shards", status: 401, code: 1005, details: "Authorization")
            try await expectError(client, .get, "/v1/account/shards", headers: bearer("not-a-token"), status: 401, code: 1005)
            // WA_API_KEY opens health, metrics and stats only.
            try await expectError(client, .get, "/v1/account/shards", headers: [.authorization: "Apikey fixture-api-key"], status: 401, code: 1005,
                                  details: "Bearer")
            for method in [HTTPRequest.Method.put, .delete, .patch] {
                let r = try await expectError(client, method, "/v1/account/shards", headers: bearer(admin), status: 405, code: 1025)
                #expect(r.headers[.allow] == "POST, GET", "\(method)")
            }
        }
        let cold = try await WebappFixture(schemaReady: false)
        let token = try await cold.plantToken(for: "admin")
        try await cold.test { client in
            try await expectError(client, .get, "/v1/account/shards", headers: bearer(token), status: 503, code: 1011, details: "schema")
        }
    }

    @Test func everyValidCountIsForwardedToThePrimaryMasterAnd201() async throws {
        let w = try await WebappFixture()
        let master = try await w.addMaster()
        let seen = Locked<[NodeRPC.SetShards.Params]>([])
        w.f.peers.answer(NodeRPC.SetShards.self) { p, _ in seen.withLock { $0.append(p) }; return Empty() }
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            for n in [1, 2, 4, 8, 16, 32] {
                let r = try await send(client, .post, "/v1/account/shards", headers: bearer(admin), body: Self.body(shards: "\(n)", pin: n == 2 ? "123456" : nil))
                #expect(r.status == .created, "\(n): \(String(buffer: r.body))")
                #expect(json(r) == .object([:]))
            }
            #expect(seen.value.map(\.shards) == [1, 2, 4, 8, 16, 32])
            #expect(seen.value.allSatisfy { $0.cc == "1" && $0.phoneNumber == "6505551234" && $0.cert == Self.cert })
            #expect(seen.value.map(\.pin) == [nil, "123456", nil, nil, nil, nil])
            #expect(Set(w.f.peers.calls(NodeRPC.SetShards.name).map(\.peer)) == [master.rpcAddress])
        }
    }

    @Test func changingTheShardCountRefusesEveryBadRequestBeforeTheMaster() async throws {
        let w = try await WebappFixture()
        try await w.addMaster()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let user = try await w.userToken(client, admin: admin)
            let auth = bearer(admin)
            let good = Self.body(shards: "2")
            try await expectError(client, .post, "/v1/account/shards", body: good, status: 401, code: 1005)
            try await expectError(client, .post, "/v1/account/shards", headers: bearer("not-a-token"), body: good, status: 401, code: 1005)
            try await expectError(client, .post, "/v1/account/shards", headers: bearer(user), body: good, status: 403, code: 1005, details: "admin")

            // Other counts are 400/1009, naming the field.
            for n in ["0", "3", "5", "33", "64", "-1", "1000000"] {
                try await expectError(client, .post, "/v1/account/shards", headers: auth, body: Self.body(shards: n), status: 400, code: 1009,
                                      details: "'shards'")
            }
            for (value, why) in [(#""2""#, "expected an integer"), ("2.5", "a fraction"), ("null", "expected an integer"), ("[2]", "expected an integer")] {
                let r = try await expectError(client, .post, "/v1/account/shards", headers: auth, body: Self.body(shards: value), status: 400, code: 1009,
                                              details: "'shards'")
                #expect(String(buffer: r.body).contains(why), "\(value): \(String(buffer: r.body))")
            }
            // A missing field is 400/1008, naming it.
            try await expectError(client, .post, "/v1/account/shards", headers: auth, body: #"{"cc":"1","phone_number":"6505551234","cert":"\#(Self.cert)"}"#,
                                  status: 400, code: 1008, details: "'shards'")
            try await expectError(client, .post, "/v1/account/shards", headers: auth, body: #"{"phone_number":"6505551234","shards":2,"cert":"\#(Self.cert)"}"#,
                                  status: 400, code: 1008, details: "'cc'")
            try await expectError(client, .post, "/v1/account/shards", headers: auth, body: #"{"cc":"1","shards":2,"cert":"\#(Self.cert)"}"#,
                                  status: 400, code: 1008, details: "'phone_number'")
            // Bad values of the other fields.
            try await expectError(client, .post, "/v1/account/shards", headers: auth, body: Self.body(shards: "2", pin: "12345"), status: 400, code: 1009,
                                  details: "'pin'")
            try await expectError(client, .post, "/v1/account/shards", headers: auth,
                                  body: #"{"cc":"1","phone_number":"65-05","shards":2,"cert":"\#(Self.cert)"}"#, status: 400, code: 1009, details: "'phone_number'")
            try await expectError(client, .post, "/v1/account/shards", headers: auth,
                                  body: #"{"cc":"1","phone_number":"6505551234","shards":2,"cert":"%%%"}"#, status: 400, code: 1009, details: "'cert'")
            try await expectError(client, .post, "/v1/account/shards", headers: auth,
                                  body: #"{"cc":"1","phone_number":"6505551234","shards":2,"cert":"\#(Self.cert)","method":"sms"}"#, status: 400, code: 1009,
                                  details: "'method'")
            try await expectError(client, .post, "/v1/account/shards", headers: auth, status: 400, code: 1025)
            try await expectError(client, .post, "/v1/account/shards", headers: auth, body: "{\"shards\":2,}", status: 400, code: 1025)
            try await expectError(client, .post, "/v1/account/shards", headers: auth, body: "2", status: 400, code: 1025)
            try await expectError(client, .post, "/v1/account/shards", headers: auth, body: String(repeating: "{", count: (1 << 20) + 1), status: 413, code: 1025)
            #expect(w.f.peers.calls(NodeRPC.SetShards.name).isEmpty, "a refused request reached the master")
        }
    }

    @Test func withoutAReachablePrimaryMasterAShardChangeIs403ToRetry() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            try await expectError(client, .post, "/v1/account/shards", headers: bearer(admin), body: Self.body(shards: "2"), status: 403, code: 1011,
                                  details: "retry")
            try await w.addMaster()
            w.f.peers.answer(NodeRPC.SetShards.self) { _, peer in throw FixtureError("fake: \(peer) is down") }
            try await expectError(client, .post, "/v1/account/shards", headers: bearer(admin), body: Self.body(shards: "2"), status: 403, code: 1011,
                                  details: "did not answer")
        }
    }

    @Test func theMastersRefusalsOfAShardChangeReachTheClient() async throws {
        let w = try await WebappFixture()
        try await w.addMaster()
        let answer = Locked<APIError>(APIError(.serviceNotReady, "the account is not registered yet; register it with POST /v1/account first", status: 409))
        w.f.peers.answer(NodeRPC.SetShards.self) { _, _ in throw answer.value }
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            try await expectError(client, .post, "/v1/account/shards", headers: bearer(admin), body: Self.body(shards: "2"), status: 409, code: 1011,
                                  details: "not registered")
            answer.withLock { $0 = APIError.conflict("phone_number", "+1 6505551234 is not the registered number") }
            try await expectError(client, .post, "/v1/account/shards", headers: bearer(admin), body: Self.body(shards: "2"), status: 409, code: 1009,
                                  details: "'phone_number'")
            answer.withLock { $0 = APIError(.notPrimaryMaster, "lost the master lease while changing shards; retry", status: 403) }
            try await expectError(client, .post, "/v1/account/shards", headers: bearer(admin), body: Self.body(shards: "2"), status: 403, code: 1017)
        }
    }

    @Test func changingTheShardCountNeedsTheSchema() async throws {
        let w = try await WebappFixture(schemaReady: false)
        try await w.addMaster()
        let admin = try await w.plantToken(for: "admin")
        try await w.test { client in
            try await expectError(client, .post, "/v1/account/shards", headers: bearer(admin), body: Self.body(shards: "2"), status: 503, code: 1011)
            #expect(w.f.peers.calls.isEmpty)
        }
    }
}
