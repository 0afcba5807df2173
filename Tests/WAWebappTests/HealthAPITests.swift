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

/// `GET /v1/health`: the golden shapes of SPEC §7, aggregated by the webapp from every master
/// and coreapp that DB-heartbeated within the DB unhealthy window; and who may read it.
@Suite("REST API: health")
struct HealthAPITests {
    static let unregistered = HealthEntry.status("unregistered", role: "primary_master")

    /// Answers each node's health from `entries` (by RPC address); a node missing there is down.
    static func answerHealth(_ w: WebappFixture, _ entries: [HostPort: JSONValue]) {
        w.f.peers.answer(NodeRPC.Health.self) { _, peer in
            guard let e = entries[peer] else { throw FixtureError("fake: \(peer) does not answer") }
            return e
        }
    }

    @Test func whileTheSchemaIsMissingTheWebappReportsUninitialized() async throws {
        let w = try await WebappFixture(schemaReady: false)
        try await w.addMaster()
        let token = try await w.plantToken(for: "admin")
        try await w.test { client in
            let r = try await send(client, .get, "/v1/health", headers: bearer(token))
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            #expect(json(r) == .object(["health": .object([WebappFixture.webappKey: .object(["gateway_status": .string("uninitialized"),
                                                                                                 "role": .string("webapp")])])]))
            #expect(w.f.peers.calls.isEmpty, "nobody is asked before the schema exists")
        }
    }

    @Test func beforeRegistrationThePrimaryMasterIsUnregisteredAndEveryOtherNode1011() async throws {
        let w = try await WebappFixture()
        let m1 = try await w.addMaster("m1", hostname: "master1", port: 7100)
        let m2 = try await w.addMaster("m2", hostname: "master2", port: 7104, primary: false)
        let c1 = try await w.addCoreapp("c1", hostname: "wacore1", port: 7110)
        let c2 = try await w.addCoreapp("c2", hostname: "wacore2", port: 7120)
        Self.answerHealth(w, [m1.rpcAddress: Self.unregistered, m2.rpcAddress: HealthEntry.notInstantiated,
                              c1.rpcAddress: HealthEntry.notInstantiated, c2.rpcAddress: HealthEntry.notInstantiated])
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let r = try await send(client, .get, "/v1/health", headers: bearer(admin))
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            #expect(r.headers[.contentType] == "application/json")
            let notInstantiated = JSONValue.object(["errors": .array([.object([
                "code": .number(1011), "title": .string("Service not ready"),
                "details": .string("Wacore is not instantiated. Please check wacore log for details."),
            ])])])
            #expect(json(r) == .object(["health": .object([
                "master1:m1": .object(["gateway_status": .string("unregistered"), "role": .string("primary_master")]),
                "master2:m2": notInstantiated, "wacore1:c1": notInstantiated, "wacore2:c2": notInstantiated,
            ])]), "\(String(buffer: r.body))")
            #expect(Set(w.f.peers.calls(NodeRPC.Health.name).map(\.peer)) == [m1.rpcAddress, m2.rpcAddress, c1.rpcAddress, c2.rpcAddress])
        }
    }

    @Test func registeredHAShowsTheOwnerConnectedAndEveryoneElseDisconnected() async throws {
        let w = try await WebappFixture()
        let m1 = try await w.addMaster()
        let c1 = try await w.addCoreapp("c1", hostname: "wacore1", port: 7110)
        let c2 = try await w.addCoreapp("c2", hostname: "wacore2", port: 7120)
        Self.answerHealth(w, [m1.rpcAddress: HealthEntry.status("disconnected", role: "primary_master"),
                              c1.rpcAddress: HealthEntry.status("connected", role: "coreapp"),
                              c2.rpcAddress: HealthEntry.status("disconnected", role: "coreapp")])
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            // Any logged-in user reads health.
            let user = try await w.userToken(client, admin: admin)
            let r = try await send(client, .get, "/v1/health", headers: bearer(user))
            #expect(r.status == .ok)
            #expect(json(r) == .object(["health": .object([
                "master1:m1": .object(["gateway_status": .string("disconnected"), "role": .string("primary_master")]),
                "wacore1:c1": .object(["gateway_status": .string("connected"), "role": .string("coreapp")]),
                "wacore2:c2": .object(["gateway_status": .string("disconnected"), "role": .string("coreapp")]),
            ])]), "\(String(buffer: r.body))")
        }
    }

    @Test func aSilentNodeIsListedAsUnreachableAndAStaleOneIsDropped() async throws {
        let w = try await WebappFixture()
        let m1 = try await w.addMaster()
        let c1 = try await w.addCoreapp("c1", hostname: "wacore1", port: 7110)
        try await w.addCoreapp("c2", hostname: "wacore2", port: 7120)
        // Last DB heartbeat 121 s ago: past the 120 s DB unhealthy window.
        var staleRow = w.f.coreappRecord("c3", hostname: "wacore3", port: 7130)
        staleRow.heartbeatAt = w.f.clock.now - 121
        try await w.f.store.upsertNode(staleRow)
        let stale = staleRow
        // A webapp row is never asked.
        try await w.f.store.upsertNode(NodeRecord(nodeID: "w2", hostname: "waweb2", role: .webapp, rpcAddress: HostPort(host: "127.0.0.1", port: 9999),
                                                  version: NodeRuntime.version, registeredAt: w.f.clock.now, heartbeatAt: w.f.clock.now))
        Self.answerHealth(w, [m1.rpcAddress: HealthEntry.status("disconnected", role: "primary_master"),
                              c1.rpcAddress: HealthEntry.status("connected", role: "coreapp"),
                              stale.rpcAddress: HealthEntry.status("connected", role: "coreapp")])
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let r = try await send(client, .get, "/v1/health", headers: bearer(admin))
            #expect(r.status == .ok)
            let health = try #require(json(r)?["health"]?.objectValue, "\(String(buffer: r.body))")
            #expect(health.keys.sorted() == ["master1:m1", "wacore1:c1", "wacore2:c2"], "stale and webapp rows are not listed")
            let down = try #require(health["wacore2:c2"]?["errors"]?.items?.first)
            #expect(down["code"] == .number(1011))
            #expect(down["title"] == .string("Service not ready"))
            #expect(down["details"]?.stringValue?.hasPrefix("Node wacore2 is unreachable: ") == true, "\(down)")
            #expect(health["wacore2:c2"]?.objectValue?.keys.sorted() == ["errors"])
            #expect(!w.f.peers.calls(NodeRPC.Health.name).contains { $0.peer == stale.rpcAddress || $0.peer.port == 9999 })
        }
    }

    @Test func withNoNodeRowsHealthIsEmpty() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            let admin = try await loginAsAdmin(client)
            let r = try await send(client, .get, "/v1/health", headers: bearer(admin))
            #expect(r.status == .ok)
            #expect(json(r) == .object(["health": .object([:])]))
        }
    }

    @Test func healthNeedsATokenOrTheAPIKey() async throws {
        let w = try await WebappFixture(apiKey: "fixture-api-key")
        try await w.test { client in
            try await expectError(client, .get, "/v1/health", status: 401, code: 1005, details: "Authorization header is missing")
            try await expectError(client, .get, "/v1/health", headers: bearer("not-a-token"), status: 401, code: 1005, details: "invalid or expired")
            try await expectError(client, .get, "/v1/health", headers: [.authorization: basic("admin", "secret")], status: 401, code: 1005, details: "Bearer")
            try await expectError(client, .get, "/v1/health", headers: [.authorization: "Apikey wrong-key"], status: 401, code: 1005, details: "API key")
            try await expectError(client, .get, "/v1/health", headers: [.authorization: "Bearer "], status: 401, code: 1005)
            let r = try await send(client, .get, "/v1/health", headers: [.authorization: "Apikey fixture-api-key"])
            #expect(r.status == .ok, "\(String(buffer: r.body))")
            #expect(json(r) == .object(["health": .object([:])]))
            // The scheme is case-insensitive, as HTTP's are.
            #expect(try await send(client, .get, "/v1/health", headers: [.authorization: "apikey fixture-api-key"]).status == .ok)
            for method in [HTTPRequest.Method.post, .put, .delete, .patch] {
                let wrong = try await expectError(client, method, "/v1/health", status: 405, code: 1025, details: "allowed: GET")
                #expect(wrong.headers[.allow] == "GET")
            }
        }
    }

    @Test func withoutWA_API_KEYNoAPIKeyIsAccepted() async throws {
        let w = try await WebappFixture()
        try await w.test { client in
            for path in ["/v1/health", "/v1/stats/db", "/metrics"] {
                try await expectError(client, .get, path, headers: [.authorization: "Apikey "], status: 401, code: 1005)
                try await expectError(client, .get, path, headers: [.authorization: "Apikey anything"], status: 401, code: 1005, details: "API key")
            }
        }
    }
}
