import Foundation
import Testing
import WACore
import WATestKit
import WAWire

@Suite(.serialized) struct BadInputTests {
    struct Case: CustomStringConvertible {
        var name: String
        var method: String
        var path: String
        var body: String?
        var token: Bool = true
        var auth: String? = nil
        var headers: [String: String] = [:]
        var status: Int
        var code: Int
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "no token", method: "GET", path: "/v1/health", token: false, status: 401, code: 1005),
        Case(name: "garbage token", method: "GET", path: "/v1/settings/application", token: false, auth: "Bearer nope", status: 401, code: 1005),
        Case(name: "wrong password", method: "POST", path: "/v1/users/login", token: false,
             auth: "Basic " + Data("admin:wrong".utf8).base64EncodedString(), status: 401, code: 1005),
        Case(name: "shards 3", method: "POST", path: "/v1/account/shards",
             body: #"{"cc":"1","phone_number":"6505551234","shards":3,"cert":"x"}"#, status: 400, code: 1009),
        Case(name: "shards 64", method: "POST", path: "/v1/account/shards",
             body: #"{"cc":"1","phone_number":"6505551234","shards":64,"cert":"x"}"#, status: 400, code: 1009),
        Case(name: "shards as string", method: "POST", path: "/v1/account/shards",
             body: #"{"cc":"1","phone_number":"6505551234","shards":"2","cert":"x"}"#, status: 400, code: 1009),
        Case(name: "shards missing", method: "POST", path: "/v1/account/shards",
             body: #"{"cc":"1","phone_number":"6505551234","cert":"x"}"#, status: 400, code: 1008),
        // Without cert a shard change works within 7 days of registration (seed 003); its refusals still come first.
        Case(name: "cert missing, bad count", method: "POST", path: "/v1/account/shards",
             body: #"{"cc":"1","phone_number":"6505551234","shards":3}"#, status: 400, code: 1009),
        Case(name: "wrong cert", method: "POST", path: "/v1/account/shards",
             body: #"{"cc":"1","phone_number":"6505551234","shards":2,"cert":"bm90IGEgY2VydA=="}"#, status: 403, code: 1009),
        Case(name: "malformed JSON", method: "POST", path: "/v1/account/shards", body: #"{"cc":"1","#, status: 400, code: 1025),
        Case(name: "JSON array body", method: "POST", path: "/v1/account", body: "[1,2]", status: 400, code: 1025),
        Case(name: "account missing method", method: "POST", path: "/v1/account",
             body: #"{"cc":"1","phone_number":"6505551234","cert":"x"}"#, status: 400, code: 1008),
        Case(name: "account bad method", method: "POST", path: "/v1/account",
             body: #"{"cc":"1","phone_number":"6505551234","method":"fax","cert":"x"}"#, status: 400, code: 1009),
        Case(name: "account unknown field", method: "POST", path: "/v1/account",
             body: #"{"cc":"1","phone_number":"6505551234","method":"sms","cert":"x","colour":"red"}"#, status: 400, code: 1009),
        Case(name: "verify empty body", method: "POST", path: "/v1/account/verify", body: "", status: 400, code: 1025),
        Case(name: "unhealthy <= heartbeat", method: "PATCH", path: "/v1/settings/application",
             body: #"{"heartbeat_interval":10,"unhealthy_interval":10}"#, status: 409, code: 1009),
        Case(name: "unhealthy below current heartbeat", method: "PATCH", path: "/v1/settings/application",
             body: #"{"unhealthy_interval":4}"#, status: 409, code: 1009),
        Case(name: "unknown setting", method: "PATCH", path: "/v1/settings/application", body: #"{"heartbeat_intervall":10}"#, status: 400, code: 1009),
        Case(name: "setting wrong type", method: "PATCH", path: "/v1/settings/application", body: #"{"heartbeat_interval":"5 s"}"#, status: 400, code: 1009),
        Case(name: "setting as a string with a leading zero", method: "PATCH", path: "/v1/settings/application", body: #"{"heartbeat_interval":"05"}"#, status: 400, code: 1009),
        Case(name: "unknown route", method: "GET", path: "/v1/nothing", status: 404, code: 1006),
        Case(name: "wrong method", method: "DELETE", path: "/v1/health", status: 405, code: 1025),
        Case(name: "message missing to", method: "POST", path: "/v1/messages", body: #"{"type":"text","text":{"body":"x"}}"#, status: 400, code: 1008),
        Case(name: "message to not digits", method: "POST", path: "/v1/messages", body: #"{"to":"bob","type":"text","text":{"body":"x"}}"#, status: 400, code: 1009),
        Case(name: "message type image", method: "POST", path: "/v1/messages", body: #"{"to":"16315551234","type":"image","text":{"body":"x"}}"#, status: 400, code: 1009),
        Case(name: "message text missing", method: "POST", path: "/v1/messages", body: #"{"to":"16315551234","type":"text"}"#, status: 400, code: 1008),
        Case(name: "message text not object", method: "POST", path: "/v1/messages", body: #"{"to":"16315551234","type":"text","text":"hi"}"#, status: 400, code: 1009),
        Case(name: "message text too long", method: "POST", path: "/v1/messages",
             body: "{\"to\":\"16315551234\",\"type\":\"text\",\"text\":{\"body\":\"" + String(repeating: "a", count: 4097) + "\"}}", status: 400, code: 1001),
        Case(name: "message unknown field", method: "POST", path: "/v1/messages", body: #"{"to":"16315551234","type":"text","text":{"body":"x"},"colour":1}"#, status: 400, code: 1009),
        Case(name: "message recipient_type group", method: "POST", path: "/v1/messages", body: #"{"recipient_type":"group","to":"16315551234","type":"text","text":{"body":"x"}}"#, status: 400, code: 1002),
        Case(name: "template without language", method: "POST", path: "/v1/messages", body: #"{"to":"16315551234","type":"template","template":{"namespace":"n","name":"t"}}"#, status: 400, code: 1008),
        Case(name: "contacts not a list", method: "POST", path: "/v1/contacts", body: #"{"contacts":"16315551234"}"#, status: 400, code: 1009),
        Case(name: "restore not a backup", method: "POST", path: "/v1/settings/restore", body: #"{"password":"Backup-Pass-1","data":"bm90IGEgYmFja3Vw"}"#, status: 400, code: 1009),
        Case(name: "message idempotency key too long", method: "POST", path: "/v1/messages", body: #"{"to":"16315551234","type":"text","text":{"body":"x"}}"#,
             headers: ["Idempotency-Key": String(repeating: "k", count: 200)], status: 400, code: 1009),
        Case(name: "message malformed", method: "POST", path: "/v1/messages", body: "{to:", status: 400, code: 1025),
        Case(name: "user name too short", method: "POST", path: "/v1/users", body: #"{"username":"ab","password":"Good-Pass-1"}"#, status: 400, code: 1009),
        Case(name: "user weak password", method: "POST", path: "/v1/users", body: #"{"username":"operator","password":"weak"}"#, status: 400, code: 1009),
        Case(name: "user exists", method: "POST", path: "/v1/users", body: #"{"username":"admin","password":"Good-Pass-1"}"#, status: 409, code: 1004),
        Case(name: "user missing password", method: "POST", path: "/v1/users", body: #"{"username":"operator"}"#, status: 400, code: 1008),
        Case(name: "delete unknown user", method: "DELETE", path: "/v1/users/nobody", status: 404, code: 1006),
        Case(name: "delete myself", method: "DELETE", path: "/v1/users/admin", status: 400, code: 1009),
        Case(name: "stats without token", method: "GET", path: "/v1/stats/db", token: false, status: 401, code: 1005),
        Case(name: "support without token", method: "GET", path: "/v1/support", token: false, status: 401, code: 1005),
        Case(name: "metrics without token", method: "GET", path: "/metrics", token: false, status: 401, code: 1005),
        Case(name: "messages wrong method", method: "GET", path: "/v1/messages", status: 405, code: 1025),
        // Digits are ASCII 0-9 only, in every field that holds one.
        Case(name: "to vulgar fractions", method: "POST", path: "/v1/messages", body: #"{"to":"½½½½½","type":"text","text":{"body":"x"}}"#, status: 400, code: 1009),
        Case(name: "to Arabic-Indic digits", method: "POST", path: "/v1/messages", body: #"{"to":"٦٥٠٥٥٥١٢٣٤","type":"text","text":{"body":"x"}}"#, status: 400, code: 1009),
        Case(name: "to Roman numerals", method: "POST", path: "/v1/messages", body: #"{"to":"ⅫⅫⅫⅫⅫ","type":"text","text":{"body":"x"}}"#, status: 400, code: 1009),
        Case(name: "to a single zero", method: "POST", path: "/v1/messages", body: #"{"to":"0","type":"text","text":{"body":"x"}}"#, status: 400, code: 1009),
        Case(name: "message empty body", method: "POST", path: "/v1/messages", body: #"{"to":"16315551234","type":"text","text":{"body":""}}"#, status: 400, code: 1008),
        Case(name: "account cc Arabic-Indic", method: "POST", path: "/v1/account",
             body: #"{"cc":"١","phone_number":"6505551234","method":"sms","cert":"x"}"#, status: 400, code: 1009),
        Case(name: "account empty cert", method: "POST", path: "/v1/account",
             body: #"{"cc":"1","phone_number":"6505551234","method":"sms","cert":""}"#, status: 400, code: 1008),
        Case(name: "verify code fullwidth", method: "POST", path: "/v1/account/verify", body: #"{"code":"１２３４５６"}"#, status: 400, code: 1009),
        Case(name: "verify empty code", method: "POST", path: "/v1/account/verify", body: #"{"code":""}"#, status: 400, code: 1008),
        // A webhook URL the nodes cannot use is refused when it is set.
        Case(name: "webhook with credentials", method: "PATCH", path: "/v1/settings/application", body: #"{"webhooks":{"url":"https://user:pw@hooks.example/in"}}"#, status: 400, code: 1009),
        Case(name: "webhook without host", method: "PATCH", path: "/v1/settings/application", body: #"{"webhooks":{"url":"http:///hook"}}"#, status: 400, code: 1009),
        Case(name: "empty PATCH", method: "PATCH", path: "/v1/settings/application", body: "{}", status: 400, code: 1008),
        Case(name: "idempotency key with a space", method: "POST", path: "/v1/messages", body: #"{"to":"16315551234","type":"text","text":{"body":"x"}}"#,
             headers: ["Idempotency-Key": "has space"], status: 400, code: 1009),
        Case(name: "oversized body", method: "PATCH", path: "/v1/settings/application",
             body: "{\"x\":\"" + String(repeating: "a", count: 1_100_000) + "\"}", status: 413, code: 1025),
    ]

    @Test func everyBadRequestGetsTheDocumentedErrorAndChangesNothing() async throws {
        var layout = ClusterLayout()
        layout.masters = 1; layout.coreapps = 1; layout.timeScale = 0.1
        layout.environment["WA_API_KEY"] = "replica-api-key"
        try await withCluster("bad-input", layout: layout) { c in
            try await c.login()
            try await c.register()
            try await c.waitForHealth(timeout: 20) { $0.hosts(status: "connected", role: "coreapp").count == 1 }
            // No webhook URL yet: sending is refused with 1022 and nothing is stored.
            let noHook = try await c.api("POST", "/v1/messages", body: .object(["to": .string("16315551234"), "type": .string("text"),
                                                                              "text": .object(["body": .string("x")])]))
            #expect(noHook.status == 409 && noHook.text.contains("1022"), "\(noHook.text)")
            try await c.patchSettings(.object(["webhooks": .object(["url": .string("http://127.0.0.1:9/hook")])]))
            let statsBefore = try await c.api("GET", "/v1/stats/db").json?["stats"]?["db"]
            let settingsBefore = try await c.api("GET", "/v1/settings/application").text
            let shardsBefore = try await c.api("GET", "/v1/account/shards").text
            let healthBefore = try await c.health().normalized()
            for k in Self.cases {
                var headers = k.headers.merging(["Content-Type": "application/json"]) { a, _ in a }
                if k.token, let t = c.token { headers["Authorization"] = "Bearer \(t)" }
                if let a = k.auth { headers["Authorization"] = a }
                let r = try await SimpleHTTPClient.request(k.method, c.webappAddress, path: k.path, headers: headers,
                                                           body: k.body.map { Data($0.utf8) }, group: c.group)
                #expect(r.status == k.status, "\(k.name): status \(r.status) \(r.text.prefix(200))")
                let entry = r.json?["errors"].flatMap { if case .array(let a) = $0 { a.first } else { nil } }
                #expect(entry?["code"]?.intValue == k.code, "\(k.name): \(r.text.prefix(200))")
                #expect(entry?["title"]?.stringValue != nil && entry?["details"]?.stringValue != nil, "\(k.name): error shape")
            }
            #expect(try await c.api("GET", "/v1/settings/application").text == settingsBefore)
            #expect(try await c.api("GET", "/v1/account/shards").text == shardsBefore)
            #expect(try await c.health().normalized() == healthBefore)
            let statsAfter = try await c.api("GET", "/v1/stats/db").json?["stats"]?["db"]
            #expect(statsAfter?["messages_pending"] == statsBefore?["messages_pending"] && statsAfter?["messages_delivered"] == statsBefore?["messages_delivered"])
            #expect(try await c.api("GET", "/v1/users/nobody").status == 405)
            // The OpenAPI document is public.
            let doc = try await SimpleHTTPClient.request("GET", c.webappAddress, path: "/v1/openapi.json", group: c.group)
            #expect(doc.status == 200 && doc.json?["openapi"]?.stringValue?.hasPrefix("3.") == true)
            // Health also accepts the API key, and refuses a wrong one.
            let viaKey = try await SimpleHTTPClient.json("GET", c.webappAddress, path: "/v1/health", authorization: "Apikey replica-api-key", group: c.group)
            #expect(viaKey.status == 200 && HealthView(viaKey.json ?? .null) != nil)
            let wrongKey = try await SimpleHTTPClient.json("GET", c.webappAddress, path: "/v1/health", authorization: "Apikey nope", group: c.group)
            #expect(wrongKey.status == 401)

            // The cluster still works after all that, and a settings change reaches every node
            // within one heartbeat interval (the primary master broadcasts it).
            let changedAt = Date().timeIntervalSince1970
            try await c.patchSettings(.object(["heartbeat_interval": .number(4)]))
            // The webapp logs the new version before it answers the PATCH.
            let version = try #require(c.events("waweb").last { $0.event == "settings_changed" }?.fields["version"])
            let heartbeat = 5.0 * layout.timeScale, slack = 1.0
            try await Polling.pause(seconds: heartbeat + slack)
            for node in ["master1", "wacore1"] {
                let applied = c.events(node).first { $0.event == "settings_applied" && $0.fields["version"] == version && $0.ts >= changedAt }
                let applyTime = (applied?.ts ?? .infinity) - changedAt
                #expect(applyTime <= heartbeat + slack, "\(node) applied settings version \(version) after \(applyTime)s")
            }
        }
    }
}
