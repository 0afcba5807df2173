import Foundation
import Hummingbird
import HummingbirdTesting
import ShellTestKit
import Testing
import WACore
import WANodes
import WAStore
import WAWebapp
import WAWire

/// What every route shares (SPEC §6): the error shape, 401 without a token, 404 for unknown
/// routes, 405 with `Allow` for a known path and another method, 400/413 for bodies that are
/// not JSON objects or too big, and the database's failures as 5xx with their codes.
@Suite("REST API: every route's refusals")
struct ErrorShapeAPITests {
    /// A route's path with its parameters filled in.
    static func concrete(_ path: String) -> String { path.replacingOccurrences(of: "{username}", with: "someone") }

    static let open: Set<String> = ["POST /v1/users/login", "GET /v1/openapi.json"]
    static let bodyRoutes: [(HTTPRequest.Method, String)] = [
        (.post, "/v1/users"), (.post, "/v1/account"), (.post, "/v1/account/verify"), (.post, "/v1/account/shards"),
        (.patch, "/v1/settings/application"), (.post, "/v1/messages"), (.post, "/v1/contacts"), (.post, "/v1/settings/backup"),
        (.post, "/v1/settings/restore"), (.patch, "/v1/settings/profile/about"), (.post, "/v1/settings/business/profile"),
    ]

    @Test func theRouteTableIsTheSpecsEndpointList() {
        let served = Set(WebappRoutes.all.map { "\($0.method) \($0.path)" })
        #expect(served == ["POST /v1/users/login", "POST /v1/users", "DELETE /v1/users/{username}", "GET /v1/health", "POST /v1/account",
                           "POST /v1/account/verify", "POST /v1/account/shards", "GET /v1/account/shards", "GET /v1/settings/application",
                           "PATCH /v1/settings/application", "POST /v1/messages", "GET /v1/support", "GET /v1/stats/db", "GET /metrics",
                           "GET /v1/openapi.json",
                           // The rest of the API real clients call (wabclient).
                           "POST /v1/contacts", "POST /v1/settings/backup", "POST /v1/settings/restore",
                           "GET /v1/settings/profile/about", "PATCH /v1/settings/profile/about", "GET /v1/settings/profile/photo",
                           "POST /v1/settings/profile/photo", "GET /v1/settings/business/profile", "POST /v1/settings/business/profile"])
        #expect(served.count == WebappRoutes.all.count, "no route is listed twice")
    }

    @Test func everyRouteButLoginAndTheDocumentNeedsAValidBearerToken() async throws {
        let w = try await WebappFixture()
        let expired = Credentials.randomHex(bytes: 32)
        try await w.f.store.saveToken(TokenRecord(tokenHash: Digests.sha256Hex(expired), username: "admin", expiresAt: w.rt.unixSeconds - 1))
        try await w.test { client in
            for route in WebappRoutes.all where !Self.open.contains("\(route.method) \(route.path)") {
                let method = HTTPRequest.Method(route.method)!
                let uri = Self.concrete(route.path)
                try await expectError(client, method, uri, body: "{}", status: 401, code: 1005, details: "Authorization header is missing")
                try await expectError(client, method, uri, headers: bearer("not-a-token"), body: "{}", status: 401, code: 1005, details: "invalid or expired")
                try await expectError(client, method, uri, headers: bearer(expired), body: "{}", status: 401, code: 1005, details: "invalid or expired")
                try await expectError(client, method, uri, headers: [.authorization: "Token abc"], body: "{}", status: 401, code: 1005, details: "Bearer")
            }
            try await expectError(client, .post, "/v1/users/login", status: 401, code: 1005)
            #expect(try await send(client, .get, "/v1/openapi.json").status == .ok, "the document needs no token")
        }
    }

    @Test func everyKnownPathAnswers405WithItsMethodsForAnyOther() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            for path in Set(WebappRoutes.all.map(\.path)) {
                // A literal route wins over a parameterised one (/v1/users/login is not a username).
                let served = WebappRoutes.all.filter { $0.path == path }.map(\.method)
                for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] where !served.contains(method) {
                    let r = try await expectError(client, HTTPRequest.Method(method)!, Self.concrete(path), headers: bearer(admin), body: "{}",
                                                  status: 405, code: 1025, details: "allowed: \(served.joined(separator: ", "))")
                    #expect(r.headers[.allow] == served.joined(separator: ", "), "\(method) \(path): \(r.headers)")
                }
            }
        }
    }

    @Test func unknownRoutesAre404WithOrWithoutAToken() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            for path in ["/", "/v1", "/v2/health", "/v1/health/extra", "/v1/users/someone/tokens", "/v1/account/shards/1", "/v1/Health",
                         "/v1/settings", "/v1/messages/gBEG1", "/v1/stats", "/metrics/extra", "/v1/openapi.yaml"] {
                for method in [HTTPRequest.Method.get, .post, .delete] {
                    try await expectError(client, method, path, status: 404, code: 1006, details: "no such endpoint")
                    try await expectError(client, method, path, headers: bearer(admin), body: "{}", status: 404, code: 1006, details: path)
                }
            }
        }
    }

    @Test func everyBodyRouteRefusesWhatIsNotAJSONObjectAndWhatIsTooBig() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let auth = bearer(admin)
            for (method, path) in Self.bodyRoutes {
                try await expectError(client, method, path, headers: auth, status: 400, code: 1025, details: "empty")
                try await expectError(client, method, path, headers: auth, body: "{", status: 400, code: 1025, details: "not valid JSON")
                try await expectError(client, method, path, headers: auth, body: "not json", status: 400, code: 1025, details: "not valid JSON")
                for value in ["[1]", "\"text\"", "42", "true", "null"] {
                    try await expectError(client, method, path, headers: auth, body: value, status: 400, code: 1025, details: "must be a JSON object")
                }
                let invalidUTF8 = try await client.execute(uri: path, method: method, headers: auth, body: ByteBuffer(bytes: [0x7B, 0xFF, 0xFE, 0x7D]))
                expectErrorShape(invalidUTF8, "\(method) \(path) (invalid UTF-8)", status: 400, code: 1025)
                try await expectError(client, method, path, headers: auth, body: String(repeating: " ", count: (1 << 20) + 1), status: 413, code: 1025,
                                      details: "larger than \(1 << 20) bytes")
            }
        }
    }

    @Test func aBodyOfExactlyOneMebibyteIsRead() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let body = #"{"username":"padded","password":"Another-123"}"#
            let padded = body + String(repeating: " ", count: (1 << 20) - body.utf8.count)
            #expect(padded.utf8.count == 1 << 20)
            let r = try await send(client, .post, "/v1/users", headers: bearer(admin), body: padded)
            #expect(r.status == .created, "\(String(buffer: r.body).prefix(300))")
        }
    }

    @Test func aDatabaseThatCannotCheckATokenIs503Or500() async throws {
        let w = try await WebappFixture()
        let token = try await w.plantToken(for: "admin")
        try await w.test { client in
            w.store.fail(with: StoreError(.unavailable, "connection refused"))
            try await expectError(client, .get, "/v1/settings/application", headers: bearer(token), status: 503, code: 1011, details: "database is unreachable")
            w.store.fail(with: StoreError(.timeout, "no answer within 5 s"))
            try await expectError(client, .get, "/v1/settings/application", headers: bearer(token), status: 503, code: 1011, details: "retry")
            w.store.fail(with: StoreError(.failed, "no such table: tokens"))
            try await expectError(client, .get, "/v1/settings/application", headers: bearer(token), status: 500, code: 1023, details: "no such table")
            w.store.fail(with: UnexpectedFailure())
            try await expectError(client, .get, "/v1/settings/application", headers: bearer(token), status: 500, code: 1023, details: "cannot check the token")
            // Logins read the user first.
            w.store.fail(with: StoreError(.unavailable, "connection refused"))
            try await expectError(client, .post, "/v1/users/login", headers: [.authorization: basic("admin", "secret")], status: 503, code: 1023,
                                  details: "connection refused")
            w.store.fail(with: nil)
            #expect(try await send(client, .get, "/v1/settings/application", headers: bearer(token)).status == .ok, "back once the database is")
        }
    }

    @Test func databaseFailuresBehindAValidTokenAre503And500WithTheirCodes() async throws {
        let w = try await WebappFixture(apiKey: "fixture-api-key")
        try await w.addMaster()
        try await w.f.registerAccount(holder: "m1")
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let auth = bearer(admin)
            _ = try await send(client, .patch, "/v1/settings/application", headers: auth, body: #"{"webhooks":{"url":"http://127.0.0.1:9/hook"}}"#)
            try await w.rt.refreshSettings()
            // Seen once, the token is remembered for a few seconds: the handlers' own reads fail.
            #expect(try await send(client, .get, "/v1/settings/application", headers: auth).status == .ok)
            let key: HTTPFields = [.authorization: "Apikey fixture-api-key"]
            let message = #"{"to":"15550001111","type":"text","text":{"body":"hello"}}"#

            w.store.fail(with: StoreError(.unavailable, "connection refused"))
            try await expectError(client, .get, "/v1/settings/application", headers: auth, status: 503, code: 1023, details: "connection refused")
            try await expectError(client, .patch, "/v1/settings/application", headers: auth, body: #"{"callback_persist":false}"#, status: 503, code: 1023)
            try await expectError(client, .get, "/v1/account/shards", headers: auth, status: 503, code: 1023)
            try await expectError(client, .post, "/v1/messages", headers: auth, body: message, status: 503, code: 1023)
            try await expectError(client, .get, "/v1/health", headers: key, status: 503, code: 1023)
            try await expectError(client, .get, "/v1/stats/db", headers: key, status: 503, code: 1023)
            try await expectError(client, .post, "/v1/account", headers: auth, body: AccountAPITests.register, status: 503, code: 1023)
            try await expectError(client, .post, "/v1/users", headers: auth, body: #"{"username":"newuser","password":"Another-123"}"#, status: 503, code: 1023)
            try await expectError(client, .delete, "/v1/users/someone", headers: auth, status: 503, code: 1023)
            // Metrics leave the database's figures out rather than fail.
            let metrics = try await send(client, .get, "/metrics", headers: key)
            #expect(metrics.status == .ok)
            #expect(!String(buffer: metrics.body).contains("wa_shards"))

            w.store.fail(with: StoreError(.failed, "disk I/O error"))
            try await expectError(client, .get, "/v1/settings/application", headers: auth, status: 500, code: 1023, details: "disk I/O error")
            try await expectError(client, .get, "/v1/support", headers: auth, status: 500, code: 1023)
            try await expectError(client, .get, "/v1/stats/db", headers: key, status: 500, code: 1023)

            // Anything that is not a database's error is an internal error, still in the product's shape.
            w.store.fail(with: UnexpectedFailure())
            try await expectError(client, .get, "/v1/settings/application", headers: auth, status: 500, code: 1014, details: "an unexpected failure")
            try await expectError(client, .get, "/v1/stats/db", headers: key, status: 500, code: 1014)

            w.store.fail(with: nil)
            #expect(try await send(client, .get, "/v1/stats/db", headers: key).status == .ok)
            #expect(try await w.f.store.settings().settings.callbackPersist == true, "a refused PATCH changed nothing")
            #expect(try await w.f.store.user("newuser") == nil)
        }
    }

    @Test func aWebappOverItsConnectionCapAnswers503With1015() async throws {
        let w = try await WebappFixture()
        let app = buildWebapp(runtime: w.rt, limits: HTTPConnectionLimits(requestTimeout: 30, maxConnections: 0))
        try await app.test(.live) { client in
            let r = try await client.execute(uri: "/v1/openapi.json", method: .get)
            expectErrorShape(r, "GET /v1/openapi.json over the cap", status: 503, code: 1015, details: "retry later")
            #expect(r.headers[.retryAfter] == "1")
        }
    }
}
