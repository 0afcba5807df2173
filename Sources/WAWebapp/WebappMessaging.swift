import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import WACore
import WANodes
import WAStore
import WAWire

/// Where each shard is served: the shard map and node addresses, cached for a fraction of a
/// tick so routing does not cost a DB read per message, refreshed at once after a miss.
final class ShardRoutes: @unchecked Sendable {
    struct Snapshot { var shardCount: Int; var owners: [Int: NodeRecord]; var at: LogicalInstant }
    private let lock = NSLock()
    private var snapshot: Snapshot?
    let rt: NodeRuntime
    init(runtime: NodeRuntime) { rt = runtime }

    func current() async throws -> Snapshot {
        let now = rt.clock.now
        if let s = lock.withLock({ snapshot }), now - s.at < 0.5 { return s }
        return try await refresh()
    }

    @discardableResult
    func refresh() async throws -> Snapshot {
        let map = try await rt.store.shardMap()
        let nodes = Dictionary(try await rt.store.nodes().map { ($0.nodeID, $0) }, uniquingKeysWith: { a, _ in a })
        var owners: [Int: NodeRecord] = [:]
        for row in map.rows where row.shard < map.shardCount {
            if let o = row.owner, let n = nodes[o] { owners[row.shard] = n }
        }
        let s = Snapshot(shardCount: map.shardCount, owners: owners, at: rt.clock.now)
        lock.withLock { snapshot = s }
        return s
    }

    func invalidate() { lock.withLock { snapshot = nil } }
}

extension WebappAPI {
    // MARK: messages

    func sendMessage(_ request: Request) async throws -> Response {
        let user = try await authenticate(request)
        try requireSchema()
        let body = try await RequestBody.object(request)
        try RequestBody.onlyKnown(body, ["recipient_type", "to", "type", "text", "preview_url"])
        if let rt = try RequestBody.string(body, "recipient_type", required: false), rt != "individual" {
            throw APIError.invalid("recipient_type", "only \"individual\" is supported")
        }
        let digits = try RequestRules.recipient(try RequestBody.string(body, "to")!)
        let type = try RequestBody.string(body, "type", required: false) ?? "text"
        guard type == "text" else { throw APIError.invalid("type", "only \"text\" messages are supported") }
        guard let textValue = body["text"] else { throw APIError.missing("text") }
        guard let text = textValue.objectValue else { throw APIError.invalid("text", "expected an object with \"body\"") }
        try RequestBody.onlyKnown(text, ["body", "preview_url"])
        let messageBody = try RequestBody.string(text, "body")!
        try RequestRules.textBody(messageBody)
        let key = request.headers[HTTPField.Name("Idempotency-Key")!]
        try RequestRules.idempotencyKey(key)
        guard rt.settings.webhookURL != nil else {
            throw APIError(.webhookNotConfigured, "set webhooks.url with PATCH /v1/settings/application before sending: statuses are delivered there", status: 409)
        }
        // Keys are the user's own: another user's key never finds this user's message.
        let id = try await route(to: digits, body: messageBody, key: key.map { IdempotencyScope.key(user: user, key: $0) })
        return APIResponse.json(JSONValue.object(["messages": .array([.object(["id": .string(id)])])]), status: .created)
    }

    /// Sends to the owner of the recipient's shard. Never hangs: a missing or dead owner is a
    /// 503 the client can retry (the message was not accepted); an owner that took the request
    /// and did not answer is a 504, because the message may have been stored.
    func route(to: String, body: String, key: String?) async throws -> String {
        var attempt = 0
        while true {
            attempt += 1
            let routes = attempt == 1 ? try await shardRoutes.current() : try await shardRoutes.refresh()
            let shard = ShardRouter.shard(for: to, shards: routes.shardCount)
            guard let owner = routes.owners[shard] else {
                throw APIError(.serviceNotReady, "shard \(shard) has no primary coreapp right now; retry later", status: 503)
            }
            do {
                let r = try await rt.peers.client(for: owner.rpcAddress).call(
                    NodeRPC.SendMessage.self, .init(to: to, body: body, idempotencyKey: key), timeout: rt.real(5, floor: 2))
                return r.id
            } catch let e as APIError where e.code == APIErrorCode.notPrimaryCoreapp.rawValue && attempt == 1 {
                continue  // the map moved under us: look again once
            } catch let e as APIError {
                throw e
            } catch let e as RPCError where e.kind == .timeout || e.kind == .closed {
                // The request may have reached the owner and been stored: the outcome is unknown.
                shardRoutes.invalidate()
                throw APIError(.serviceNotReady, "the primary coreapp of shard \(shard) (\(owner.hostname)) did not answer in time; the message may or may not have been accepted — retry with the same Idempotency-Key to avoid a duplicate", status: 504)
            } catch {
                shardRoutes.invalidate()
                throw APIError(.serviceNotReady, "the primary coreapp of shard \(shard) (\(owner.hostname)) is unreachable; the message was not accepted; retry", status: 503)
            }
        }
    }

    // MARK: users

    /// Users, settings, registration and resharding are the admin's (see the README).
    func requireAdmin(_ request: Request, _ action: String = "manage users") async throws -> String {
        let name = try await authenticate(request)
        guard try await rt.store.user(name)?.isAdmin == true else {
            throw APIError(.accessDenied, "only an admin user can \(action)", status: 403)
        }
        return name
    }

    func createUser(_ request: Request) async throws -> Response {
        _ = try await requireAdmin(request)
        let body = try await RequestBody.object(request)
        try RequestBody.onlyKnown(body, ["username", "password"])
        let name = try RequestBody.string(body, "username")!
        let password = try RequestBody.string(body, "password")!
        try RequestRules.username(name)
        if let problem = Credentials.passwordProblem(password) { throw APIError.invalid("password", problem) }
        if let existing = try await rt.store.user(name) {
            throw APIError(.alreadyExists, "user \(existing.username) already exists (usernames are unique regardless of case)", status: 409)
        }
        let hash = try await passwords.run { Credentials.hashPassword(password) }
        try await rt.store.saveUser(UserRecord(username: name, passwordHash: hash, salt: "", mustChangePassword: false, isAdmin: false))
        return APIResponse.json(JSONValue.object(["users": .array([.object(["username": .string(name)])])]), status: .created)
    }

    func deleteUser(_ request: Request, name: String) async throws -> Response {
        let me = try await requireAdmin(request)
        guard name != me else { throw APIError.invalid("username", "you cannot delete the user you are logged in as") }
        guard try await rt.store.deleteUser(name) else { throw APIError(.notFound, "no user named \(name)", status: 404) }
        tokenCache.drop(user: name)
        return APIResponse.empty(.ok)
    }

    // MARK: support, stats, metrics

    func support(_ request: Request) async throws -> Response {
        _ = try await authenticate(request)
        try requireSchema()
        let entries = try await askEveryNode(NodeRPC.Support.self) { try JSONValue.parse(try JSONEncoder().encode($0)) }
        return APIResponse.json(JSONValue.object(["support": .object(["nodes": .object(entries)])]))
    }

    func statsDB(_ request: Request) async throws -> Response {
        _ = try await authenticate(request, allowAPIKey: true)
        try requireSchema()
        return APIResponse.json(["stats": ["db": try await rt.store.dbStats()]])
    }

    func metrics(_ request: Request) async throws -> Response {
        _ = try await authenticate(request, allowAPIKey: true)
        var text = requestMetrics.render()
        if rt.isSchemaReady, let stats = try? await rt.store.dbStats() {
            text += "# HELP wa_messages_pending Messages accepted and not yet acknowledged by the WhatsApp server.\n# TYPE wa_messages_pending gauge\nwa_messages_pending \(stats.messagesPending)\n"
            text += "# HELP wa_messages Messages by state.\n# TYPE wa_messages gauge\n"
            text += "wa_messages{state=\"sent\"} \(stats.messagesSent)\nwa_messages{state=\"delivered\"} \(stats.messagesDelivered)\nwa_messages{state=\"read\"} \(stats.messagesRead)\n"
            text += "# HELP wa_callbacks_pending Webhook callbacks waiting for delivery.\n# TYPE wa_callbacks_pending gauge\nwa_callbacks_pending \(stats.callbacksPending)\n"
            text += "# HELP wa_shards Configured shard count.\n# TYPE wa_shards gauge\nwa_shards \(stats.shards)\n"
            if let url = rt.settings.webhookURL {
                // A stored URL the nodes cannot call leaves wa_callbacks_pending callbacks unattempted.
                let usable = (try? WebhookTarget.parse(url)) != nil
                text += "# HELP wa_webhook_url_usable 1 when webhooks.url is one the nodes can call; 0 leaves callbacks unattempted.\n# TYPE wa_webhook_url_usable gauge\nwa_webhook_url_usable \(usable ? 1 : 0)\n"
            }
            if let nodes = try? await rt.store.nodes(), let lease = try? await rt.store.masterLease(), let map = try? await rt.store.shardMap() {
                text += "# HELP wa_node_role 1 for the role each node has now.\n# TYPE wa_node_role gauge\n"
                let now = rt.clock.now
                for n in nodes where now - n.heartbeatAt <= rt.timings.dbUnhealthyAfter {
                    let role: String = switch n.role {
                    case .master: lease.holder == n.nodeID ? "primary_master" : "secondary_master"
                    default: map.shard(ownedBy: n.nodeID) != nil ? "primary_coreapp" : "standby_coreapp"
                    }
                    text += "wa_node_role{node=\"\(n.hostname)\",node_id=\"\(n.nodeID)\",role=\"\(role)\"} 1\n"
                }
            }
        }
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Request counts and latency per route and status, in Prometheus text.
final class RequestMetrics: @unchecked Sendable {
    static let buckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
    private let lock = NSLock()
    private var counts: [String: Int] = [:]
    private var histograms: [String: (buckets: [Int], sum: Double, count: Int)] = [:]

    func record(route: String, method: String, status: Int, seconds: Double) {
        lock.withLock {
            counts["method=\"\(method)\",route=\"\(route)\",status=\"\(status)\"", default: 0] += 1
            let key = "method=\"\(method)\",route=\"\(route)\""
            var h = histograms[key] ?? (Array(repeating: 0, count: Self.buckets.count), 0, 0)
            for (i, b) in Self.buckets.enumerated() where seconds <= b { h.buckets[i] += 1 }
            h.sum += seconds; h.count += 1
            histograms[key] = h
        }
    }

    func render() -> String {
        lock.withLock {
            var out = "# HELP wa_http_requests_total Requests answered by the webapp.\n# TYPE wa_http_requests_total counter\n"
            for (k, v) in counts.sorted(by: { $0.key < $1.key }) { out += "wa_http_requests_total{\(k)} \(v)\n" }
            out += "# HELP wa_http_request_duration_seconds Time to answer a request.\n# TYPE wa_http_request_duration_seconds histogram\n"
            for (k, h) in histograms.sorted(by: { $0.key < $1.key }) {
                for (i, b) in Self.buckets.enumerated() { out += "wa_http_request_duration_seconds_bucket{\(k),le=\"\(b)\"} \(h.buckets[i])\n" }
                out += "wa_http_request_duration_seconds_bucket{\(k),le=\"+Inf\"} \(h.count)\n"
                out += "wa_http_request_duration_seconds_sum{\(k)} \(h.sum)\nwa_http_request_duration_seconds_count{\(k)} \(h.count)\n"
            }
            return out
        }
    }
}
