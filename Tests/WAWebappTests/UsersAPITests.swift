import Foundation
import Hummingbird
import HummingbirdTesting
import ShellTestKit
import Testing
import WACore
import WAStore
import WAWebapp

/// `POST /v1/users/login`, `POST /v1/users`, `DELETE /v1/users/{username}` (SPEC §6).
@Suite("REST API: users")
struct UsersAPITests {
    static func expiresText(_ unix: Double) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = TimeZone(identifier: "UTC"); f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return f.string(from: Date(timeIntervalSince1970: unix)) + "+00:00"
    }

    @Test func theFirstLoginSetsThePasswordAndAnswersASevenDayToken() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            // admin/secret is the default, but the first login must set a new password.
            try await expectError(client, .post, "/v1/users/login", headers: [.authorization: basic("admin", "secret")],
                                  status: 403, code: 1024, details: "new_password")
            for weak in ["Short-1", "alllowercase-1", "ALLUPPER-1", "No-Digits-Here", "NoSpecial123", "With Space-1", String(repeating: "Aa1-", count: 17)] {
                try await expectError(client, .post, "/v1/users/login", headers: [.authorization: basic("admin", "secret")],
                                      body: #"{"new_password":"\#(weak)"}"#, status: 400, code: 1009, details: "new_password")
            }
            #expect(try await w.f.store.user("admin")?.mustChangePassword == true, "a refused password changed nothing")

            let now = w.rt.unixSeconds
            let r = try await send(client, .post, "/v1/users/login", headers: [.authorization: basic("admin", "secret")],
                                   body: #"{"new_password":"\#(WebappFixture.adminPassword)"}"#)
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            #expect(r.headers[.contentType] == "application/json")
            let users = try #require(json(r)?["users"]?.items)
            #expect(users.count == 1)
            let entry = try #require(users.first?.objectValue)
            #expect(entry.keys.sorted() == ["expires_after", "token"])
            let token = try #require(entry["token"]?.stringValue)
            #expect(token.count == 64 && token.allSatisfy { $0.isHexDigit }, "token \(token)")
            #expect(entry["expires_after"]?.stringValue == Self.expiresText(now + 7 * 86_400), "tokens last 7 days: \(entry)")
            let stored = try #require(try await w.f.store.token(hash: Digests.sha256Hex(token)))
            #expect(stored.username == "admin" && stored.expiresAt == now + 7 * 86_400)
            #expect(try await w.f.store.user("admin")?.mustChangePassword == false)

            // The token works; the old password does not; the new one logs in without a body.
            let settings = try await send(client, .get, "/v1/settings/application", headers: bearer(token))
            #expect(settings.status == .ok)
            try await expectError(client, .post, "/v1/users/login", headers: [.authorization: basic("admin", "secret")], status: 401, code: 1005)
            let again = try await login(client, "admin", WebappFixture.adminPassword)
            #expect(again != token, "every login answers a new token")
            // Usernames are found regardless of case.
            _ = try await login(client, "ADMIN", WebappFixture.adminPassword)
        }
    }

    @Test func aNewPasswordRevokesEveryTokenOfTheUser() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            let first = try await loginAsAdmin(client)
            let second = try await login(client, "admin", WebappFixture.adminPassword)
            // Both are in use (and so in the webapp's token cache).
            for t in [first, second] { #expect(try await send(client, .get, "/v1/settings/application", headers: bearer(t)).status == .ok) }
            let third = try await login(client, "admin", WebappFixture.adminPassword, newPassword: "Replica-Pass-2")
            for t in [first, second] {
                try await expectError(client, .get, "/v1/settings/application", headers: bearer(t), status: 401, code: 1005, details: "log in again")
            }
            #expect(try await send(client, .get, "/v1/settings/application", headers: bearer(third)).status == .ok)
            try await expectError(client, .post, "/v1/users/login", headers: [.authorization: basic("admin", WebappFixture.adminPassword)],
                                  status: 401, code: 1005)
        }
    }

    @Test func loginRefusalsHaveTheProductsErrorShape() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let good: HTTPFields = [.authorization: basic("admin", WebappFixture.adminPassword)]
            // Credentials: missing, not Basic, not base64, no colon, unknown user, wrong password.
            try await expectError(client, .post, "/v1/users/login", status: 401, code: 1005, details: "Basic")
            try await expectError(client, .post, "/v1/users/login", headers: bearer(admin), status: 401, code: 1005, details: "Basic")
            try await expectError(client, .post, "/v1/users/login", headers: [.authorization: "Basic %%%not-base64"], status: 401, code: 1005)
            try await expectError(client, .post, "/v1/users/login", headers: [.authorization: "Basic " + Data("adminonly".utf8).base64EncodedString()],
                                  status: 401, code: 1005)
            try await expectError(client, .post, "/v1/users/login", headers: [.authorization: basic("nobody", "Whatever-1")], status: 401, code: 1005,
                                  details: "invalid username or password")
            // The body is checked before the password: each refusal names what is wrong.
            try await expectError(client, .post, "/v1/users/login", headers: good, body: "{", status: 400, code: 1025, details: "not valid JSON")
            try await expectError(client, .post, "/v1/users/login", headers: good, body: #"["x"]"#, status: 400, code: 1025, details: "JSON object")
            try await expectError(client, .post, "/v1/users/login", headers: good, body: #"{"password":"x"}"#, status: 400, code: 1009, details: "'password'")
            try await expectError(client, .post, "/v1/users/login", headers: good, body: #"{"new_password":12345678}"#, status: 400, code: 1009,
                                  details: "'new_password'")
            try await expectError(client, .post, "/v1/users/login", headers: good, body: #"{"new_password":"\#(String(repeating: "x", count: 1 << 20))"}"#,
                                  status: 413, code: 1025, details: "larger than")
            // Wrong methods: the literal route wins over /v1/users/{username}.
            for method in [HTTPRequest.Method.get, .put, .delete, .patch] {
                let r = try await expectError(client, method, "/v1/users/login", headers: good, status: 405, code: 1025)
                #expect(r.headers[.allow] == "POST", "\(method)")
            }
            // An empty body and `{}` are both a plain login.
            #expect(try await send(client, .post, "/v1/users/login", headers: good, body: "{}").status == .ok)
            #expect(try await send(client, .post, "/v1/users/login", headers: good, body: "").status == .ok)
        }
    }

    @Test func loginNeedsTheSchema() async throws {
        let w = try await WebappFixture(schemaReady: false)
        try await w.test { client in
            try await expectError(client, .post, "/v1/users/login", headers: [.authorization: basic("admin", "secret")], status: 503, code: 1011,
                                  details: "schema")
        }
    }

    @Test func failedLoginsAreThrottledPerUserWithRetryAfter() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            _ = try await loginAsAdmin(client)
            for _ in 0..<5 {
                try await expectError(client, .post, "/v1/users/login", headers: [.authorization: basic("admin", "Wrong-Pass-1")], status: 401, code: 1005)
            }
            // The sixth attempt waits, even with the right password.
            let r = try await expectError(client, .post, "/v1/users/login", headers: [.authorization: basic("admin", WebappFixture.adminPassword)],
                                          status: 429, code: 1015, details: "retry in")
            #expect(r.headers[.retryAfter] == "1", "\(r.headers)")
            // Per (user, source): another user from the same source is not held back.
            try await expectError(client, .post, "/v1/users/login", headers: [.authorization: basic("someone", "Wrong-Pass-1")], status: 401, code: 1005)
        }
    }

    @Test func theAdminCreatesUsersWhoLogInStraightAway() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let r = try await send(client, .post, "/v1/users", headers: bearer(admin), body: #"{"username":"ops-bot","password":"Another-123"}"#)
            #expect(r.status == .created, "\(String(buffer: r.body))")
            #expect(json(r) == .object(["users": .array([.object(["username": .string("ops-bot")])])]))
            let stored = try #require(try await w.f.store.user("ops-bot"))
            #expect(stored.isAdmin == false && stored.mustChangePassword == false)
            #expect(!stored.passwordHash.contains("Another-123"))
            // No first-login password change for a user the admin made.
            let token = try await login(client, "ops-bot", "Another-123")
            #expect(try await send(client, .get, "/v1/settings/application", headers: bearer(token)).status == .ok)
            // Names are unique regardless of case.
            try await expectError(client, .post, "/v1/users", headers: bearer(admin), body: #"{"username":"OPS-BOT","password":"Another-123"}"#,
                                  status: 409, code: 1004, details: "ops-bot")
            try await expectError(client, .post, "/v1/users", headers: bearer(admin), body: #"{"username":"Admin","password":"Another-123"}"#,
                                  status: 409, code: 1004)
            // Names of 4 and 32 characters are the bounds.
            for name in ["abcd", String(repeating: "a", count: 32), "a_b-c.9"] {
                let ok = try await send(client, .post, "/v1/users", headers: bearer(admin), body: #"{"username":"\#(name)","password":"Another-123"}"#)
                #expect(ok.status == .created, "\(name): \(String(buffer: ok.body))")
            }
        }
    }

    @Test func creatingAUserRefusesEveryBadRequest() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let auth = bearer(admin)
            let user = try await w.userToken(client, admin: admin)
            let valid = #"{"username":"newuser","password":"Another-123"}"#
            try await expectError(client, .post, "/v1/users", body: valid, status: 401, code: 1005, details: "Authorization")
            try await expectError(client, .post, "/v1/users", headers: bearer("not-a-token"), body: valid, status: 401, code: 1005)
            try await expectError(client, .post, "/v1/users", headers: [.authorization: basic("admin", WebappFixture.adminPassword)], body: valid,
                                  status: 401, code: 1005, details: "Bearer")
            try await expectError(client, .post, "/v1/users", headers: bearer(user), body: valid, status: 403, code: 1005, details: "admin")

            try await expectError(client, .post, "/v1/users", headers: auth, body: #"{"password":"Another-123"}"#, status: 400, code: 1008, details: "'username'")
            try await expectError(client, .post, "/v1/users", headers: auth, body: #"{"username":"","password":"Another-123"}"#, status: 400, code: 1008,
                                  details: "'username'")
            try await expectError(client, .post, "/v1/users", headers: auth, body: #"{"username":"newuser"}"#, status: 400, code: 1008, details: "'password'")
            try await expectError(client, .post, "/v1/users", headers: auth, body: #"{"username":1234,"password":"Another-123"}"#, status: 400, code: 1009,
                                  details: "'username'")
            try await expectError(client, .post, "/v1/users", headers: auth, body: #"{"username":"newuser","password":["Another-123"]}"#, status: 400,
                                  code: 1009, details: "'password'")
            for name in ["abc", String(repeating: "a", count: 33), "has space", "slash/name", "ünïcode"] {
                try await expectError(client, .post, "/v1/users", headers: auth, body: #"{"username":"\#(name)","password":"Another-123"}"#,
                                      status: 400, code: 1009, details: "'username'")
            }
            try await expectError(client, .post, "/v1/users", headers: auth, body: #"{"username":"newuser","password":"weakpass"}"#, status: 400, code: 1009,
                                  details: "'password'")
            try await expectError(client, .post, "/v1/users", headers: auth, body: #"{"username":"newuser","password":"Another-123","is_admin":true}"#,
                                  status: 400, code: 1009, details: "'is_admin'")
            try await expectError(client, .post, "/v1/users", headers: auth, body: "", status: 400, code: 1025, details: "empty")
            try await expectError(client, .post, "/v1/users", headers: auth, body: #"{"username":"newuser""#, status: 400, code: 1025, details: "JSON")
            try await expectError(client, .post, "/v1/users", headers: auth, body: "\"newuser\"", status: 400, code: 1025, details: "JSON object")
            try await expectError(client, .post, "/v1/users", headers: auth, body: String(repeating: " ", count: (1 << 20) + 1), status: 413, code: 1025)
            for method in [HTTPRequest.Method.get, .put, .delete, .patch] {
                let r = try await expectError(client, method, "/v1/users", headers: auth, status: 405, code: 1025)
                #expect(r.headers[.allow] == "POST")
            }
            #expect(try await w.f.store.user("newuser") == nil, "a refused request created a user")
        }
    }

    @Test func theAdminDeletesUsersAndTheirSessionsEndAtOnce() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let user = try await w.userToken(client, admin: admin)
            #expect(try await send(client, .get, "/v1/account/shards", headers: bearer(user)).status == .ok)

            let r = try await send(client, .delete, "/v1/users/ops-bot", headers: bearer(admin))
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            #expect(json(r) == .object([:]))
            #expect(try await w.f.store.user("ops-bot") == nil)
            try await expectError(client, .get, "/v1/account/shards", headers: bearer(user), status: 401, code: 1005)
            try await expectError(client, .post, "/v1/users/login", headers: [.authorization: basic("ops-bot", "Another-123")], status: 401, code: 1005)
            try await expectError(client, .delete, "/v1/users/ops-bot", headers: bearer(admin), status: 404, code: 1006, details: "ops-bot")

            // By another case: names are found regardless of case, and the session ends at once too.
            let other = try await w.userToken(client, admin: admin, name: "Second.User")
            #expect(try await send(client, .get, "/v1/account/shards", headers: bearer(other)).status == .ok)
            #expect(try await send(client, .delete, "/v1/users/SECOND.USER", headers: bearer(admin)).status == .ok)
            try await expectError(client, .get, "/v1/account/shards", headers: bearer(other), status: 401, code: 1005)
        }
    }

    @Test func deletingAUserRefusesEveryBadRequest() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let user = try await w.userToken(client, admin: admin)
            try await expectError(client, .delete, "/v1/users/ops-bot", status: 401, code: 1005)
            try await expectError(client, .delete, "/v1/users/ops-bot", headers: bearer("not-a-token"), status: 401, code: 1005)
            try await expectError(client, .delete, "/v1/users/admin", headers: bearer(user), status: 403, code: 1005, details: "admin")
            try await expectError(client, .delete, "/v1/users/nobody", headers: bearer(admin), status: 404, code: 1006)
            // Nobody deletes the user they are logged in as, whatever the case they write it in.
            for me in ["admin", "ADMIN", "Admin"] {
                try await expectError(client, .delete, "/v1/users/\(me)", headers: bearer(admin), status: 400, code: 1009, details: "'username'")
            }
            #expect(try await w.f.store.user("admin") != nil)
            #expect(try await send(client, .get, "/v1/settings/application", headers: bearer(admin)).status == .ok)
            for method in [HTTPRequest.Method.get, .post, .put, .patch] {
                let r = try await expectError(client, method, "/v1/users/ops-bot", headers: bearer(admin), status: 405, code: 1025)
                #expect(r.headers[.allow] == "DELETE", "\(method)")
            }
            #expect(try await w.f.store.user("ops-bot") != nil, "a refused request deleted the user")
        }
    }

    /// The SPEC's API has no logout route: `/v1/users/logout` is only the path of a user named
    /// "logout", served for DELETE, so a POST is a wrong method, not a crash or a silent 200.
    @Test func thereIsNoLogoutRoute() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let r = try await expectError(client, .post, "/v1/users/logout", headers: bearer(admin), status: 405, code: 1025)
            #expect(r.headers[.allow] == "DELETE")
            #expect(try await send(client, .get, "/v1/settings/application", headers: bearer(admin)).status == .ok, "the token still works")
        }
    }
}
