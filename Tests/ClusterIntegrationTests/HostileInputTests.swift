import Foundation
import NIOCore
import NIOPosix
import Testing
import WACore
import WAStore
import WAStoreRemote
import WATestKit
import WAWire

/// A blocking TCP client on loopback, for requests no well-behaved client sends.
final class RawSocket {
    let fd: Int32
    init(port: Int, receiveTimeout: Double = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw ClusterError("connect to \(port) failed: errno \(errno)") }
        var tv = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout - receiveTimeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        // A send into a peer that stops reading (backpressure) gives up too, never blocks the test.
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
    deinit { close(fd) }
    @discardableResult func send(_ text: String) -> Bool { send(Array(text.utf8)) }
    @discardableResult func send(_ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBufferPointer { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }
    /// Reads until the peer closes or the receive timeout passes; returns what came and whether it closed.
    func readAll() -> (text: String, closed: Bool) {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n == 0 { return (String(decoding: out, as: UTF8.self), true) }
            if n < 0 { return (String(decoding: out, as: UTF8.self), false) }
            out += buf[0..<n]
        }
    }
    /// One line (for line protocols).
    func readLine() -> String? {
        var out: [UInt8] = []
        var b: UInt8 = 0
        while recv(fd, &b, 1, 0) == 1 {
            if b == 0x0A { return String(decoding: out, as: UTF8.self) }
            out.append(b)
        }
        return out.isEmpty ? nil : String(decoding: out, as: UTF8.self)
    }
}
private func J(_ text: String) -> JSONValue { try! JSONValue.parse(Data(text.utf8)) }

/// What a process holds now, from /proc.
struct ProcessUsage: CustomStringConvertible {
    var rssMiB: Double
    var fds: Int
    init(pid: Int32) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let kb = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }.flatMap { Double($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        rssMiB = kb / 1024
        fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }
    var description: String { String(format: "%.0f MiB RSS, %d fds", rssMiB, fds) }
}

@Suite(.serialized) struct HostileInputTests {
    /// Credentials and the API's edges, against one webapp with a 2 s request timeout and a
    /// 24-connection cap (so the bounds are reached quickly).
    @Test func credentialsAndTheAPIsEdges() async throws {
        var layout = ClusterLayout()
        layout.masters = 1; layout.coreapps = 1; layout.timeScale = 0.1
        layout.environment["WA_HTTP_REQUEST_TIMEOUT"] = "2"
        layout.environment["WA_WEBAPP_MAX_CONNECTIONS"] = "24"
        let webhook = WebhookReceiver()
        try await webhook.start()
        defer { Task { await webhook.close() } }
        try await withCluster("hostile-api", layout: layout) { c in
            try await c.login()
            try await c.register()
            try await c.patchSettings(.object(["webhooks": .object(["url": .string(webhook.url)])]))
            try await c.waitForHealth(timeout: 20) { $0.hosts(status: "connected", role: "coreapp").count == 1 }

            #expect(try await c.api("GET", "/metrics").text.contains("wa_webhook_url_usable 1"))

            // Usernames are unique regardless of case.
            #expect(try await c.api("POST", "/v1/users", body: J(#"{"username":"ADMIN","password":"Good-Pass-1!"}"#)).status == 409)
            #expect(try await c.api("POST", "/v1/users", body: J(#"{"username":"Operator","password":"Good-Pass-1!"}"#)).status == 201)
            let again = try await c.api("POST", "/v1/users", body: J(#"{"username":"operator","password":"Good-Pass-1!"}"#))
            #expect(again.status == 409 && again.text.contains("1004"), "\(again.text)")

            func login(_ user: String, _ password: String, newPassword: String? = nil) async throws -> HTTPResult {
                try await SimpleHTTPClient.json("POST", c.webappAddress, path: "/v1/users/login",
                                                authorization: "Basic " + Data("\(user):\(password)".utf8).base64EncodedString(),
                                                body: newPassword.map { .object(["new_password": .string($0)]) }, group: c.group)
            }
            func token(_ r: HTTPResult) -> String? { if case .array(let u)? = r.json?["users"] { u.first?["token"]?.stringValue } else { nil } }
            let opToken = try #require(token(try await login("operator", "Good-Pass-1!")), "lookup is case-insensitive")

            // Only the admin changes settings and the shard count; any user sends.
            let patch = try await c.api("PATCH", "/v1/settings/application", body: J(#"{"heartbeat_interval":4}"#), token: opToken)
            #expect(patch.status == 403 && patch.text.contains("1005"), "\(patch.text)")
            let reshard = try await c.api("POST", "/v1/account/shards", body: J(#"{"cc":"1","phone_number":"6505551234","shards":2,"cert":"\#(c.cert)"}"#), token: opToken)
            #expect(reshard.status == 403, "\(reshard.text)")

            // Idempotency keys are per user; the same key for another message is refused.
            func send(_ body: String, key: String, token: String? = nil) async throws -> HTTPResult {
                try await c.api("POST", "/v1/messages", body: J(#"{"to":"16315550001","type":"text","text":{"body":"\#(body)"}}"#),
                                token: token, headers: ["Idempotency-Key": key])
            }
            func id(_ r: HTTPResult) -> String? { if case .array(let m)? = r.json?["messages"] { m.first?["id"]?.stringValue } else { nil } }
            let first = try await send("one", key: "order-1")
            let mine = try #require(id(first), "\(first.text)")
            #expect(id(try await send("one", key: "order-1")) == mine, "a retry gets the same id")
            let theirs = try await send("one", key: "order-1", token: opToken)
            #expect(id(theirs) != nil && id(theirs) != mine, "another user's key never finds the admin's message: \(theirs.text)")
            let reused = try await send("two", key: "order-1")
            #expect(reused.status == 409 && reused.text.contains("Idempotency-Key"), "\(reused.status) \(reused.text)")

            // A new password revokes the tokens the old one opened.
            #expect(try await c.api("GET", "/v1/account/shards", token: opToken).status == 200)
            let changed = try await login("operator", "Good-Pass-1!", newPassword: "Newer-Pass-2!")
            #expect(changed.status == 200)
            #expect(try await c.api("GET", "/v1/account/shards", token: opToken).status == 401, "the old token is revoked")
            #expect(try await c.api("GET", "/v1/account/shards", token: token(changed)).status == 200)

            // Login time does not reveal which users exist: median of unknown vs known users.
            func median(_ user: String) async throws -> Double {
                var times: [Double] = []
                for _ in 0..<4 {
                    let t0 = Date()
                    #expect(try await login(user, "Wrong-Pass-9!").status == 401)
                    times.append(Date().timeIntervalSince(t0))
                }
                return times.sorted()[1...2].reduce(0, +) / 2
            }
            let unknown = try await median("nobody-here"), known = try await median("admin")
            print("login timing: unknown user \(String(format: "%.1f", unknown * 1000)) ms, admin with a wrong password \(String(format: "%.1f", known * 1000)) ms")
            #expect(unknown / known > 0.5 && unknown / known < 2, "unknown \(unknown)s vs known \(known)s")

            // Wrong passwords are throttled per user and source with 429 / 1015 and Retry-After,
            // and the right password works again after the wait.
            var throttled: HTTPResult?
            for _ in 0..<8 {
                let r = try await login("operator", "Wrong-Pass-9!")
                if r.status == 429 { throttled = r; break }
                #expect(r.status == 401)
            }
            let refusal = try #require(throttled, "no 429 after 8 wrong passwords")
            #expect(refusal.text.contains("1015"))
            let wait = try #require(refusal.header("Retry-After").flatMap(Double.init))
            #expect(wait >= 1 && wait <= 60)
            #expect(try await login("admin", LocalCluster.password).status == 200, "another user is not locked out")
            try await Polling.pause(seconds: wait + 0.2)
            #expect(try await login("operator", "Newer-Pass-2!").status == 200, "the right password works after the wait")

            // 405 names what is allowed; a bad chunk size is a 400.
            let wrongMethod = try await c.api("DELETE", "/v1/health")
            #expect(wrongMethod.status == 405 && wrongMethod.header("Allow") == "GET", "\(wrongMethod.headers)")
            let chunked = try RawSocket(port: c.webappAddress.port)
            chunked.send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(c.token ?? "")\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
            let chunkAnswer = chunked.readAll().text
            #expect(chunkAnswer.hasPrefix("HTTP/1.1 400"), "\(chunkAnswer.prefix(200))")

            // An idle connection and an incomplete request are closed after the bound (2 s).
            let idle = try RawSocket(port: c.webappAddress.port, receiveTimeout: 6)
            let slow = try RawSocket(port: c.webappAddress.port, receiveTimeout: 6)
            let t0 = Date()
            slow.send("POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabcdef")
            #expect(idle.readAll().closed)
            #expect(slow.readAll().closed)
            let held = Date().timeIntervalSince(t0)
            #expect(held >= 1.5 && held < 5, "held \(held)s with a 2 s bound")

            // Past the connection cap the next client gets a 503 and the held ones expire.
            let webPID = try #require(c.process("waweb")?.pid)
            let webBefore = ProcessUsage(pid: webPID)
            let holders = try (0..<24).map { _ in try RawSocket(port: c.webappAddress.port, receiveTimeout: 6) }
            // Wait until the webapp has accepted all 24 (each is a descriptor of its own).
            let accepted = Date().addingTimeInterval(3)
            while ProcessUsage(pid: webPID).fds < webBefore.fds + 24, Date() < accepted { try await Polling.pause(seconds: 0.05) }
            let extra = try RawSocket(port: c.webappAddress.port, receiveTimeout: 4)
            extra.send("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            let over = extra.readAll().text
            #expect(over.hasPrefix("HTTP/1.1 503") && over.contains("1015"), "\(over.prefix(200))")
            for h in holders { _ = h.readAll() }
            #expect(try await c.api("GET", "/v1/health").status == 200, "the webapp serves again once the held connections expired")
            let webAfterIdle = ProcessUsage(pid: webPID)

            // 600 wrong logins, 20 at a time: throttled, and the webapp's memory stays put.
            var statuses: [Int: Int] = [:]
            for _ in 0..<30 {
                let batch = try await withThrowingTaskGroup(of: Int.self) { g in
                    for _ in 0..<20 { g.addTask { try await login("admin", "Wrong-Pass-9!").status } }
                    return try await g.reduce(into: [Int]()) { $0.append($1) }
                }
                for st in batch { statuses[st, default: 0] += 1 }
            }
            // Back near the baseline once the clients' last connections have closed (a few may
            // still be closing the instant the last answer arrives).
            var webAfterLogins = ProcessUsage(pid: webPID)
            let settle = Date().addingTimeInterval(5)
            while webAfterLogins.fds > webBefore.fds + 8, Date() < settle {
                try await Polling.pause(seconds: 0.1)
                webAfterLogins = ProcessUsage(pid: webPID)
            }
            print("webapp: before \(webBefore); after 24 held + 1 refused connection expired \(webAfterIdle); after 600 wrong logins \(webAfterLogins) (answers \(statuses))")
            #expect((statuses[429] ?? 0) >= 550, "wrong logins were not throttled: \(statuses)")
            #expect(webAfterIdle.fds <= webBefore.fds + 4 && webAfterLogins.fds <= webBefore.fds + 8, "\(webBefore) → \(webAfterIdle) → \(webAfterLogins)")
            #expect(webAfterLogins.rssMiB - webBefore.rssMiB < 64)
            // No permanent lockout: the wait is bounded (the unit tests drive it past the cap).
            let last = try await login("admin", LocalCluster.password)
            #expect(last.status == 429 && (last.header("Retry-After").flatMap(Double.init) ?? 999) <= 60, "\(last.status) \(last.headers)")
        }
    }

    /// The cluster's own ports: nothing is served without the cluster secret, RPC applies the
    /// REST rules, a poison message fails alone, and floods leave memory and descriptors near
    /// their baseline without a failover.
    @Test func nodePortsPoisonAndFloods() async throws {
        var layout = ClusterLayout()
        // 0.25, not 0.1: the owner must renew its shard lease within 6 logical s of the last
        // renewal, and at 0.1 that is 0.6 s of real time, which a 2-core machine under the flood
        // and other load sometimes took for one database round trip (the lease lapsed and came
        // back; seen in fresh-clone CI and under two busy loops). The flood lasts 3 s either way.
        layout.masters = 1; layout.coreapps = 1; layout.timeScale = 0.25
        let webhook = WebhookReceiver()
        try await webhook.start()
        defer { Task { await webhook.close() } }
        try await withCluster("hostile-ports", layout: layout) { c in
            try await c.login()
            try await c.register()
            try await c.patchSettings(.object(["webhooks": .object(["url": .string(webhook.url)])]))
            try await c.waitForHealth(timeout: 20) { $0.hosts(status: "connected", role: "coreapp").count == 1 }
            let control = c.nodes["wacore1"]!.ports[2]

            // Unauthenticated RPC: an error line and a closed connection.
            let raw = try RawSocket(port: control)
            #expect(raw.readLine()?.contains("challenge") == true)
            raw.send(#"{"id":1,"method":"send_message","params":{"to":"","body":"x"}}"# + "\n")
            let refused = raw.readAll()
            #expect(refused.text.contains("1005") && refused.closed, "\(refused.text)")
            // A wrong secret, on node RPC, the db node and gateway admin alike.
            let wrong = try ClusterSecret("not-the-cluster-secret-000")
            let stranger = RPCClient(peer: HostPort(host: "127.0.0.1", port: control), keyring: ClusterKeyring(wrong), group: c.group)
            await #expect(throws: RPCError.self) { _ = try await stranger.call(NodeRPC.Health.self, Empty(), timeout: 3) }
            let dbStranger = RemoteClusterStore(address: HostPort(host: "127.0.0.1", port: c.databaseConfig.port!), addressBook: .direct,
                                                keyring: ClusterKeyring(wrong), group: c.group, timeout: 3)
            await #expect(throws: StoreError.self) { _ = try await dbStranger.nodes() }
            var codeRequest = GatewayFrame(.admin)
            codeRequest.op = "get_code"; codeRequest.cc = LocalCluster.cc; codeRequest.phoneNumber = LocalCluster.phoneNumber
            let gw = try await GatewayAdmin.request(codeRequest, gateway: c.gatewayAddress, secret: wrong, group: c.group, timeout: 3)
            #expect(gw.ok == false && gw.reason?.contains("cluster secret") == true)

            // With the secret, RPC refuses what REST refuses.
            let member = RPCClient(peer: HostPort(host: "127.0.0.1", port: control), keyring: ClusterKeyring(c.clusterSecret), group: c.group)
            for (to, body) in [("", "x"), ("½½½½½", "x"), ("16315550002", String(repeating: "a", count: 5000))] {
                await #expect(throws: APIError.self) { _ = try await member.call(NodeRPC.SendMessage.self, .init(to: to, body: body, idempotencyKey: nil), timeout: 3) }
            }

            // A poison row (2 MiB, written around the API) fails alone: later messages are delivered
            // and the shard's session is never dropped.
            let db = RemoteClusterStore(address: HostPort(host: "127.0.0.1", port: c.databaseConfig.port!), addressBook: .direct,
                                        keyring: ClusterKeyring(c.clusterSecret), group: c.group, timeout: 5)
            let poisonID = "gBEGpoison00000000000000"
            _ = try await db.acceptMessages([MessageRecord(id: poisonID, shard: 0, recipient: "16315550003", body: String(repeating: "p", count: 2 << 20),
                                                           idempotencyKey: nil, state: .accepted, acceptedBy: "elsewhere", acceptedAt: LogicalInstant(seconds: 0))])
            var ids: [String] = []
            for i in 0..<5 {
                let r = try await c.api("POST", "/v1/messages", body: J(#"{"to":"16315550004","type":"text","text":{"body":"after \#(i)"}}"#))
                if case .array(let m)? = r.json?["messages"], let id = m.first?["id"]?.stringValue { ids.append(id) }
            }
            #expect(ids.count == 5)
            let settled = Date().addingTimeInterval(20)
            while Date() < settled, !(ids.allSatisfy { webhook.statuses[$0]?.contains("delivered") == true } && webhook.statuses[poisonID]?.contains("failed") == true) {
                try await Polling.pause(seconds: 0.1)
            }
            #expect(ids.allSatisfy { webhook.statuses[$0]?.contains("delivered") == true }, "messages behind the poison were delivered")
            #expect(webhook.statuses[poisonID]?.contains("failed") == true, "the poison message is reported failed")
            let failedBody = webhook.rawBodies.first { $0.contains(poisonID) && $0.contains("failed") }
            #expect(failedBody?.contains("errors") == true && failedBody?.contains("1026") == true, "\(failedBody ?? "no failed status")")
            let sessions = c.gatewayJournal().filter { $0["event"]?.stringValue == "connect" }.count
            #expect(sessions == 1, "the poison message dropped the session: \(sessions) sessions")

            // Floods: 300,000 pipelined requests never read, then 60 unterminated 8 MiB lines.
            let pid = try #require(c.process("wacore1")?.pid)
            let before = ProcessUsage(pid: pid)
            let ownerBefore = c.events("wacore1").filter { $0.typed.map { if case .becameOwner = $0 { true } else { false } } ?? false }.count
            let flood = try RawSocket(port: control, receiveTimeout: 1)
            let challenge = try #require(flood.readLine().flatMap { try? JSONValue.parse(Data($0.utf8))["challenge"]?.stringValue })
            let nonce = ClusterSecret.challenge()
            flood.send(#"{"auth":"\#(c.clusterSecret.proof(.rpcClient, challenge: challenge, nonce: nonce))","nonce":"\#(nonce)"}"# + "\n")
            var chunk = ""
            for i in 0..<1000 { chunk += #"{"id":\#(i),"method":"health"}"# + "\n" }
            let floodDone = Task.detached {
                var sent = 0
                for _ in 0..<300 { if flood.send(chunk) { sent += 1000 } else { break } }
                return sent
            }
            try await Polling.pause(seconds: 3)
            let during = ProcessUsage(pid: pid)
            // shutdown (not close) wakes a send blocked in another thread.
            shutdown(flood.fd, Int32(SHUT_RDWR))
            let sent = await floodDone.value
            var halves: [RawSocket] = []
            for _ in 0..<60 {
                let h = try RawSocket(port: control, receiveTimeout: 1)
                _ = h.readLine()
                h.send(#"{"auth":"x","nonce":"y"}"#.replacingOccurrences(of: "x", with: String(repeating: "x", count: 100)))
                h.send(Array(repeating: UInt8(ascii: "z"), count: 1 << 20))
                halves.append(h)
            }
            try await Polling.pause(seconds: 3)
            halves.removeAll()
            try await Polling.pause(seconds: 2)
            let after = ProcessUsage(pid: pid)
            print("coreapp under flood: before \(before), during \(sent) pipelined requests \(during), after 60 half lines and 5 s \(after)")
            #expect(during.rssMiB - before.rssMiB < 128, "RPC flood grew the coreapp by \(during.rssMiB - before.rssMiB) MiB")
            #expect(after.rssMiB - before.rssMiB < 128, "\(before) → \(after)")
            #expect(after.fds <= before.fds + 8, "descriptors: \(before.fds) → \(after.fds)")
            let ownerAfter = c.events("wacore1").filter { $0.typed.map { if case .becameOwner = $0 { true } else { false } } ?? false }.count
            if ownerAfter != ownerBefore {
                // Say why, so a failure here can be diagnosed from the CI log alone.
                let why = (c.events("wacore1") + c.events("master1")).filter {
                    ["role_changed", "lease_lost", "coreapp_unhealthy", "promotion", "gateway_disconnected", "db_error", "db_unreachable"].contains($0.event)
                }.sorted { $0.ts < $1.ts }.suffix(30).map { "\($0.node) \($0.event) \($0.message)" }
                let lines: String = why.joined(separator: "\n")
                Issue.record("the flood caused a failover (\(ownerBefore) → \(ownerAfter) promotions):\n\(lines)")
            }
            let health = try await c.health()
            #expect(health.hosts(status: "connected", role: "coreapp").count == 1)
        }
    }
}

/// Without `WA_CLUSTER_SECRET` the nodes share a secret kept in the database.
@Suite(.serialized) struct ClusterSecretFromDatabaseTests {
    @Test func nodesShareTheSecretTheDatabaseKeeps() async throws {
        var layout = ClusterLayout()
        layout.masters = 1; layout.coreapps = 1; layout.timeScale = 0.1
        layout.environment[ClusterSecret.variable] = ""
        try await withCluster("secret-in-db", layout: layout) { c in
            try await c.login()
            // The webapp reaches both nodes over RPC: it and they learned one secret from the database.
            var text = ""
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                text = try await c.api("GET", "/v1/health").text
                if text.contains("primary_master"), text.contains("wacore1"), !text.contains("unreachable") { break }
                try await Polling.pause(seconds: 0.2)
            }
            #expect(text.contains("primary_master") && text.contains("Wacore is not instantiated") && !text.contains("unreachable"), "\(text)")
            for node in ["master1", "wacore1", "waweb"] {
                #expect(c.events(node).contains { $0.event == "cluster_secret_loaded" }, "\(node) did not load the secret from the database")
            }
            // The operator's secret is not the database's: a node given the run's secret is refused.
            let control = c.nodes["wacore1"]!.ports[2]
            let outsider = RPCClient(peer: HostPort(host: "127.0.0.1", port: control), keyring: ClusterKeyring(c.clusterSecret), group: c.group)
            await #expect(throws: RPCError.self) { _ = try await outsider.call(NodeRPC.Health.self, Empty(), timeout: 3) }
        }
    }
}
