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

/// The REST API through Hummingbird's test client on `buildWebapp`, over an in-process shell:
/// a temporary store, a manual clock and fake peers. No sockets, no processes.
@Suite("REST API")
struct RESTAPITests {
    static let password = "Replica-Pass-1"

    func webapp() async throws -> (ShellFixture, NodeRuntime) {
        let f = try await ShellFixture()
        let rt = try f.runtime(.webapp, hostname: "waweb", nodeID: "w1", port: 9090)
        rt.markSchemaReady()
        return (f, rt)
    }

    /// Logs in as admin the first time (setting the password) and answers the bearer token.
    func adminToken(_ client: some TestClientProtocol) async throws -> String { try await loginAsAdmin(client) }

    @Test func everyRefusalHasTheProductsErrorShape() async throws {
        let (_, rt) = try await webapp()
        try await buildWebapp(runtime: rt).test(.router) { client in
            try await expectError(client, .get, "/v1/nope", status: 404, code: 1006)
            let wrongMethod = try await expectError(client, .delete, "/v1/health", status: 405, code: 1025)
            #expect(wrongMethod.headers[.allow] == "GET")
            try await expectError(client, .get, "/v1/health", status: 401, code: 1005)
            try await expectError(client, .post, "/v1/users/login", status: 401, code: 1005)
            try await expectError(client, .post, "/v1/users/login", headers: [.authorization: basic("admin", "wrong")], status: 401, code: 1005)
            try await expectError(client, .post, "/v1/users/login", headers: [.authorization: basic("admin", "secret")], status: 403, code: 1024)
            try await expectError(client, .get, "/v1/settings/application", headers: [.authorization: "Bearer not-a-token"], status: 401, code: 1005)
        }
    }

    @Test func settingsAreReadAndPatchedWithEveryRuleChecked() async throws {
        let (f, rt) = try await webapp()
        try await buildWebapp(runtime: rt).test(.router) { client in
            let token = try await adminToken(client)
            let auth: HTTPFields = [.authorization: "Bearer \(token)"]
            let read = try await client.execute(uri: "/v1/settings/application", method: .get, headers: auth)
            #expect(read.status == .ok)
            #expect(json(read)?["settings"]?["application"]?["heartbeat_interval"] == .number(5))

            try await expectError(client, .patch, "/v1/settings/application", headers: auth, body: "{}", status: 400, code: 1008)
            try await expectError(client, .patch, "/v1/settings/application", headers: auth, body: #"{"webhooks":{"url":"ftp://x/y"}}"#, status: 400, code: 1009)
            try await expectError(client, .patch, "/v1/settings/application", headers: auth, body: #"{"heartbeat_interval":40}"#, status: 409, code: 1009)
            try await expectError(client, .patch, "/v1/settings/application", headers: auth, body: #"{"no_such_setting":1}"#, status: 400, code: 1009)
            try await expectError(client, .patch, "/v1/settings/application", headers: auth, body: "[1]", status: 400, code: 1025)
            #expect(try await f.store.settings().settings == ApplicationSettings(), "a refused PATCH changed nothing")

            let patched = try await client.execute(uri: "/v1/settings/application", method: .patch, headers: auth,
                                                   body: ByteBuffer(string: #"{"callback_persist":false,"webhooks":{"url":"https://hooks.example/in"}}"#))
            #expect(patched.status == .ok)
            let stored = try await f.store.settings().settings
            #expect(stored.callbackPersist == false)
            #expect(stored.webhooks.url == "https://hooks.example/in")
        }
    }

    @Test func aMessageIsRoutedToItsShardOwnerAndAnsweredWithItsID() async throws {
        let (f, rt) = try await webapp()
        let core = f.coreappRecord("c1", hostname: "wacore1", port: 7110)
        try await f.store.upsertNode(core)
        _ = try await f.store.acquireMasterLease(node: "m1", ttl: 60)
        try await f.registerAccount(holder: "m1")
        let lease = try await f.store.masterLease()
        _ = try await f.store.assignShard(0, to: "c1", guard: MasterGuard(nodeID: "m1", term: lease.lease.term))
        f.peers.answer(NodeRPC.SendMessage.self) { params, _ in
            guard params.to == "15550001111", params.body == "hello" else { throw APIError.invalid("to", "unexpected \(params)") }
            return .init(id: "gBEGfromTheOwner")
        }

        try await buildWebapp(runtime: rt).test(.router) { client in
            let token = try await adminToken(client)
            let auth: HTTPFields = [.authorization: "Bearer \(token)"]
            let message = #"{"to":"15550001111","type":"text","text":{"body":"hello"}}"#
            // Statuses have nowhere to go yet.
            try await expectError(client, .post, "/v1/messages", headers: auth, body: message, status: 409, code: 1022)
            _ = try await client.execute(uri: "/v1/settings/application", method: .patch, headers: auth,
                                         body: ByteBuffer(string: #"{"webhooks":{"url":"http://127.0.0.1:9/hook"}}"#))
            try await rt.refreshSettings()

            let sent = try await client.execute(uri: "/v1/messages", method: .post, headers: auth, body: ByteBuffer(string: message))
            #expect(sent.status == .created)
            #expect(json(sent)?["messages"].flatMap { if case .array(let a) = $0 { a.first?["id"] } else { nil } } == .string("gBEGfromTheOwner"))
            #expect(f.peers.calls(NodeRPC.SendMessage.name).map(\.peer) == [core.rpcAddress])

            let long = #"{"to":"15550001111","type":"text","text":{"body":"\#(String(repeating: "x", count: 4097))"}}"#
            try await expectError(client, .post, "/v1/messages", headers: auth, body: long, status: 400, code: 1001)
            try await expectError(client, .post, "/v1/messages", headers: auth, body: #"{"to":"12ab","type":"text","text":{"body":"x"}}"#, status: 400, code: 1009)
            try await expectError(client, .post, "/v1/messages", headers: auth, body: #"{"type":"text","text":{"body":"x"}}"#, status: 400, code: 1008)
            #expect(f.peers.calls(NodeRPC.SendMessage.name).count == 1, "a refused request reached the owner")
        }
    }

    @Test func metricsCountRequestsByRouteAndShowTheDatabase() async throws {
        let (f, rt) = try await webapp()
        try await buildWebapp(runtime: rt).test(.router) { client in
            let token = try await adminToken(client)
            let auth: HTTPFields = [.authorization: "Bearer \(token)"]
            _ = try await client.execute(uri: "/v1/settings/application", method: .get, headers: auth)
            _ = try await client.execute(uri: "/v1/users/nobody", method: .delete, headers: auth)
            _ = try await client.execute(uri: "/v1/nope", method: .get, headers: auth)
            try await expectError(client, .get, "/metrics", status: 401, code: 1005)
            let r = try await client.execute(uri: "/metrics", method: .get, headers: auth)
            #expect(r.status == .ok)
            let text = String(buffer: r.body)
            let requests = text.split(separator: "\n").filter { $0.hasPrefix("wa_http_requests_total{") }
            #expect(requests.contains { $0.contains(#"route="/v1/settings/application""#) && $0.contains(#"status="200""#) }, "\(text)")
            #expect(requests.contains { $0.contains(#"route="/v1/users/{username}""#) && $0.contains(#"method="DELETE""#) }, "labelled by the route, not the path")
            #expect(!requests.contains { $0.contains("nobody") }, "a path parameter became a label")
            #expect(text.contains("# TYPE wa_http_request_duration_seconds histogram"))
            #expect(text.contains("wa_messages_pending 0"))
            #expect(text.contains("wa_shards 1"))
            _ = f
        }
    }

    @Test func theOpenAPIDocumentIsServed() async throws {
        let (_, rt) = try await webapp()
        try await buildWebapp(runtime: rt).test(.router) { client in
            let r = try await client.execute(uri: "/v1/openapi.json", method: .get)
            #expect(r.status == .ok)
            #expect(json(r)?["openapi"]?.stringValue?.hasPrefix("3.") == true)
        }
    }
}
