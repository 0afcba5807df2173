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

/// `GET /v1/support` (per node: role, shards, socket_conn, db_engine, multi_connect),
/// `GET /v1/stats/db` (the database's counts) and `/metrics` by API key (SPEC §6).
@Suite("REST API: support, stats, metrics")
struct SupportAndStatsAPITests {
    static func supportEntry(_ role: String, _ shards: [[Int]], _ conn: String, multi: Bool) -> JSONValue {
        .object(["role": .string(role), "shards": .array(shards.map { .array($0.map { .number(Double($0)) }) }), "socket_conn": .string(conn),
                 "db_engine": .string("SQLITE"), "multi_connect": .bool(multi)])
    }

    @Test func supportListsEveryNodesLine() async throws {
        let w = try await WebappFixture()
        let m1 = try await w.addMaster()
        let c1 = try await w.addCoreapp("c1", hostname: "wacore1", port: 7110)
        let c2 = try await w.addCoreapp("c2", hostname: "wacore2", port: 7120)
        try await w.addCoreapp("c3", hostname: "wacore3", port: 7130)
        w.f.peers.answer(NodeRPC.Support.self) { _, peer in
            switch peer {
            case m1.rpcAddress: return .init(role: "primary_master", shards: [[-1, -1]], socketConn: "connected", dbEngine: "SQLITE", multiConnect: true)
            case c1.rpcAddress: return .init(role: "coreapp", shards: [[0, 0]], socketConn: "connected", dbEngine: "SQLITE", multiConnect: true)
            case c2.rpcAddress: return .init(role: "coreapp", shards: [], socketConn: "disconnected", dbEngine: "SQLITE", multiConnect: true)
            default: throw FixtureError("fake: \(peer) does not answer")
            }
        }
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let user = try await w.userToken(client, admin: admin)
            let r = try await send(client, .get, "/v1/support", headers: bearer(user))
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            #expect(r.headers[.contentType] == "application/json")
            let nodes = try #require(json(r)?["support"]?["nodes"]?.objectValue, "\(String(buffer: r.body))")
            #expect(json(r)?.objectValue?.keys.sorted() == ["support"] && json(r)?["support"]?.objectValue?.keys.sorted() == ["nodes"])
            #expect(nodes.keys.sorted() == ["master1:m1", "wacore1:c1", "wacore2:c2", "wacore3:c3"])
            #expect(nodes["master1:m1"] == Self.supportEntry("primary_master", [[-1, -1]], "connected", multi: true))
            #expect(nodes["wacore1:c1"] == Self.supportEntry("coreapp", [[0, 0]], "connected", multi: true))
            #expect(nodes["wacore2:c2"] == Self.supportEntry("coreapp", [], "disconnected", multi: true))
            let down = try #require(nodes["wacore3:c3"]?["errors"]?.items?.first)
            #expect(down["code"] == .number(1011))
            #expect(down["details"]?.stringValue?.hasPrefix("Node wacore3 is unreachable: ") == true, "\(down)")
        }
    }

    @Test func supportRefusesWhatTheSpecRefuses() async throws {
        let w = try await WebappFixture(apiKey: "fixture-api-key")
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            try await expectError(client, .get, "/v1/support", status: 401, code: 1005)
            try await expectError(client, .get, "/v1/support", headers: bearer("not-a-token"), status: 401, code: 1005)
            try await expectError(client, .get, "/v1/support", headers: [.authorization: "Apikey fixture-api-key"], status: 401, code: 1005, details: "Bearer")
            for method in [HTTPRequest.Method.post, .put, .delete, .patch] {
                let r = try await expectError(client, method, "/v1/support", headers: bearer(admin), status: 405, code: 1025)
                #expect(r.headers[.allow] == "GET")
            }
        }
        let cold = try await WebappFixture(schemaReady: false)
        let token = try await cold.plantToken(for: "admin")
        try await cold.test { client in
            try await expectError(client, .get, "/v1/support", headers: bearer(token), status: 503, code: 1011, details: "schema")
        }
    }

    @Test func statsShowTheDatabasesCounts() async throws {
        let w = try await WebappFixture(apiKey: "fixture-api-key")
        try await w.addMaster()
        try await w.addCoreapp()
        try await w.f.registerAccount(shards: 2, holder: "m1")
        let now = w.f.clock.now
        _ = try await w.f.store.acceptMessages(["a", "b", "c", "d", "e"].map {
            MessageRecord(id: "gBEG\($0)", shard: 0, recipient: "15550001111", body: "hi", idempotencyKey: nil, state: .accepted, acceptedBy: "c1", acceptedAt: now)
        })
        _ = try await w.f.store.applyStatuses([.init(id: "gBEGa", state: .sent), .init(id: "gBEGb", state: .delivered), .init(id: "gBEGc", state: .read)],
                                              at: now, callbacks: nil)
        try await w.f.store.enqueueCallback(shard: 0, kind: "status", payload: "{}", at: now)
        _ = try await w.f.store.recordInbound(id: "in1", shard: 0, sender: "15550002222", body: "hello", at: now)
        let expected = JSONValue.object(["stats": .object(["db": .object([
            "messages_pending": .number(2), "messages_sent": .number(1), "messages_delivered": .number(1), "messages_read": .number(1),
            "callbacks_pending": .number(1), "inbound_messages": .number(1), "nodes": .number(2), "shards": .number(2),
        ])])])
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let user = try await w.userToken(client, admin: admin)
            for auth in [bearer(user), [.authorization: "Apikey fixture-api-key"]] as [HTTPFields] {
                let r = try await send(client, .get, "/v1/stats/db", headers: auth)
                #expect(r.status == .ok, "\(String(buffer: r.body))")
                #expect(r.headers[.contentType] == "application/json")
                #expect(json(r) == expected, "\(String(buffer: r.body))")
            }
        }
    }

    @Test func statsRefuseWhatTheSpecRefuses() async throws {
        let w = try await WebappFixture(apiKey: "fixture-api-key")
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            try await expectError(client, .get, "/v1/stats/db", status: 401, code: 1005)
            try await expectError(client, .get, "/v1/stats/db", headers: bearer("not-a-token"), status: 401, code: 1005)
            try await expectError(client, .get, "/v1/stats/db", headers: [.authorization: "Apikey wrong"], status: 401, code: 1005, details: "API key")
            for method in [HTTPRequest.Method.post, .put, .delete, .patch] {
                let r = try await expectError(client, method, "/v1/stats/db", headers: bearer(admin), status: 405, code: 1025)
                #expect(r.headers[.allow] == "GET")
            }
            try await expectError(client, .get, "/v1/stats", headers: bearer(admin), status: 404, code: 1006)
        }
        let cold = try await WebappFixture(schemaReady: false, apiKey: "fixture-api-key")
        try await cold.test { client in
            try await expectError(client, .get, "/v1/stats/db", headers: [.authorization: "Apikey fixture-api-key"], status: 503, code: 1011, details: "schema")
        }
    }

    @Test func metricsAreServedByAPIKeyAsPrometheusText() async throws {
        let w = try await WebappFixture(apiKey: "fixture-api-key")
        try await w.addMaster()
        try await w.addCoreapp()
        try await w.f.registerAccount(shards: 2, holder: "m1")
        try await w.test { client in
            let r = try await send(client, .get, "/metrics", headers: [.authorization: "Apikey fixture-api-key"])
            #expect(r.status == .ok)
            #expect(r.headers[.contentType] == "text/plain; version=0.0.4")
            let text = String(buffer: r.body)
            #expect(text.contains("wa_shards 2"), "\(text)")
            #expect(text.contains(#"wa_node_role{node="master1",node_id="m1",role="primary_master"} 1"#), "\(text)")
            #expect(text.contains(#"wa_node_role{node="wacore1",node_id="c1",role="standby_coreapp"} 1"#), "\(text)")
            try await expectError(client, .get, "/metrics", headers: [.authorization: "Apikey wrong"], status: 401, code: 1005)
            for method in [HTTPRequest.Method.post, .put, .delete, .patch] {
                let wrong = try await expectError(client, method, "/metrics", status: 405, code: 1025)
                #expect(wrong.headers[.allow] == "GET")
            }
        }
    }

    @Test func metricsLeaveOutTheDatabaseWhileTheSchemaIsMissing() async throws {
        let w = try await WebappFixture(schemaReady: false, apiKey: "fixture-api-key")
        try await w.test { client in
            let r = try await send(client, .get, "/metrics", headers: [.authorization: "Apikey fixture-api-key"])
            #expect(r.status == .ok)
            let text = String(buffer: r.body)
            #expect(!text.contains("wa_shards") && !text.contains("wa_messages_pending") && !text.contains("wa_node_role"), "\(text)")
        }
    }
}
