import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Prometheus
import WACore
import WANodes
import WAStore
import WAWire

/// Where each shard is served: the shard map and node addresses, cached for a fraction of a
/// tick so routing does not cost a DB read per message, refreshed at once after a miss.
///
/// While the webapp cannot read the database it routes by the last map it read: the owner
/// decides for itself whether it still holds its shard (it checks its own lease), so a webapp
/// cut from the database does not stop messages the owners can still store.
final class ShardRoutes: Sendable {
    struct Snapshot { var shardCount: Int; var owners: [Int: NodeRecord]; var at: LogicalInstant }
    private let snapshot = Locked<Snapshot?>(nil)
    let rt: NodeRuntime
    init(runtime: NodeRuntime) { rt = runtime }

    /// The refresh in flight: sends that find the map stale at the same time wait for one read
    /// instead of each making their own (on a slow database they would queue behind each other).
    private let inFlight = Locked<Task<Snapshot, any Error>?>(nil)

    /// A map younger than half a tick as it is; one up to two ticks old too, while a read
    /// refreshes it on the side (a send need not wait a database round trip for a map that
    /// rarely changes: an owner that lost its shard says so, and the retry reads afresh).
    func current() async throws -> Snapshot {
        let now = rt.clock.now
        if let s = snapshot.value {
            if now - s.at < rt.timings.tick / 2 { return s }
            if now - s.at < 2 * rt.timings.tick {
                // At most one read is in flight (`refresh` joins it), so this task never piles up.
                Task { _ = try? await self.refresh() }
                return s
            }
        }
        return try await refresh()
    }

    /// `joining: false` after the owner said the map moved: a read begun before that answer
    /// could still name the old owner.
    @discardableResult
    func refresh(joining: Bool = true) async throws -> Snapshot {
        let task = inFlight.withLock { running -> Task<Snapshot, any Error> in
            if joining, let running { return running }
            let started = Task { try await self.read() }
            running = started
            return started
        }
        defer { inFlight.withLock { if $0 == task { $0 = nil } } }
        return try await task.value
    }

    private func read() async throws -> Snapshot {
        do {
            let map = try await rt.store.shardMap()
            let nodes = Dictionary(try await rt.store.nodes().map { ($0.nodeID, $0) }, uniquingKeysWith: { a, _ in a })
            var owners: [Int: NodeRecord] = [:]
            for row in map.rows where row.shard < map.shardCount {
                if let o = row.owner, let n = nodes[o] { owners[row.shard] = n }
            }
            let s = Snapshot(shardCount: map.shardCount, owners: owners, at: rt.clock.now)
            snapshot.withLock { $0 = s }
            return s
        } catch let e as StoreError where e.isUnavailability {
            guard let last = snapshot.value else { throw e }
            return last
        }
    }

    /// The next send reads the map afresh; the map is kept as the fallback while the database is away.
    func invalidate() { snapshot.withLock { $0?.at = LogicalInstant(seconds: -.infinity) } }
}

extension WebappAPI {
    // MARK: messages

    func sendMessage(_ request: Request) async throws -> Response {
        let user = try await authenticate(request)
        try requireSchema()
        let body = try await RequestBody.object(request)
        try RequestBody.onlyKnown(body, ["recipient_type", "to", "type", "text", "template", "hsm", "preview_url"])
        switch try RequestBody.string(body, "recipient_type", required: false) {
        case nil, "individual"?: break
        case "group"?:
            throw APIError(.invalidRecipientType, "recipient_type \"group\" is not supported: the product no longer sends to groups; send to an individual (\"recipient_type\": \"individual\")", status: 400)
        case let other?: throw APIError(.invalidRecipientType, "recipient_type must be \"individual\", got \"\(other)\"", status: 400)
        }
        if let preview = body["preview_url"], preview.boolValue == nil { throw APIError.invalid("preview_url", "expected a boolean, got \(preview.typeName)") }
        let digits = try RequestRules.recipient(try RequestBody.string(body, "to")!)
        let typeName = try RequestBody.string(body, "type", required: false) ?? "text"
        guard let kind = MessageKind(rawValue: typeName) else {
            throw APIError.invalid("type", "this cluster sends \"text\", \"template\" and \"hsm\" messages, got \"\(typeName)\"")
        }
        for other in MessageKind.allCases where other != kind && body[other.field] != nil {
            throw APIError.invalid(other.field, "a \(kind.rawValue) message carries no \"\(other.field)\" object")
        }
        let messageBody: String
        switch kind {
        case .text:
            guard let textValue = body["text"] else { throw APIError.missing("text") }
            guard let text = textValue.objectValue else { throw APIError.invalid("text", "expected an object with \"body\"") }
            try RequestBody.onlyKnown(text, ["body", "preview_url"])
            if let preview = text["preview_url"], preview.boolValue == nil { throw APIError.invalid("text.preview_url", "expected a boolean, got \(preview.typeName)") }
            messageBody = try RequestBody.string(text, "body")!
        case .template: messageBody = String(decoding: JSONCodec.data(try RequestRules.template(body["template"])), as: UTF8.self)
        case .hsm: messageBody = String(decoding: JSONCodec.data(try RequestRules.hsm(body["hsm"])), as: UTF8.self)
        }
        try RequestRules.content(messageBody, kind: kind)
        let key = request.headers[HTTPField.Name("Idempotency-Key")!]
        try RequestRules.idempotencyKey(key)
        guard rt.settings.webhookURL != nil else {
            throw APIError(.webhookNotConfigured, "set webhooks.url with PATCH /v1/settings/application before sending: statuses are delivered there", status: 409)
        }
        // Keys are the user's own: another user's key never finds this user's message.
        let id = try await route(to: digits, body: messageBody, kind: kind, key: key.map { IdempotencyScope.key(user: user, key: $0) })
        return APIResponse.json(JSONValue.object(["messages": .array([.object(["id": .string(id)])])]), status: .created)
    }

    /// Sends to the owner of the recipient's shard. Never hangs: a missing or dead owner is a
    /// 503 the client can retry (the message was not accepted); an owner that took the request
    /// and did not answer is a 504, because the message may have been stored.
    func route(to: String, body: String, kind: MessageKind = .text, key: String?) async throws -> String {
        var attempt = 0
        while true {
            attempt += 1
            let routes = attempt == 1 ? try await shardRoutes.current() : try await shardRoutes.refresh(joining: false)
            let shard = ShardRouter.shard(for: to, shards: routes.shardCount)
            guard let owner = routes.owners[shard] else {
                throw APIError(.serviceNotReady, "shard \(shard) has no primary coreapp right now; retry later", status: 503)
            }
            do {
                let r = try await rt.peers.call(NodeRPC.SendMessage.self, .init(to: to, body: body, idempotencyKey: key, kind: kind),
                                                on: owner.rpcAddress,
                                                timeout: rt.real(rt.timings.ownerCall, floor: ClusterTimings.ownerCallFloorReal))
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
        // Usernames are unique regardless of case: "ADMIN" is the admin too.
        guard name.lowercased() != me.lowercased() else { throw APIError.invalid("username", "you cannot delete the user you are logged in as") }
        guard try await rt.store.deleteUser(name) else { throw APIError(.notFound, "no user named \(name)", status: 404) }
        tokenCache.drop(user: name)
        return APIResponse.empty(.ok)
    }

    // MARK: support, stats, metrics

    func support(_ request: Request) async throws -> Response {
        _ = try await authenticate(request)
        try requireSchema()
        let entries = try await askEveryNode(NodeRPC.Support.self) { try JSONCodec.encode($0) }
        return APIResponse.json(JSONValue.object(["support": .object(["nodes": .object(entries)])]))
    }

    func statsDB(_ request: Request) async throws -> Response {
        _ = try await authenticate(request, allowAPIKey: true)
        try requireSchema()
        return APIResponse.json(["stats": ["db": try await rt.store.dbStats()]])
    }

    func metrics(_ request: Request) async throws -> Response {
        _ = try await authenticate(request, allowAPIKey: true)
        // The database's figures are a snapshot per scrape (a registry of their own): when the
        // database cannot be read they are absent, not the last values seen.
        let snapshot = PrometheusCollectorRegistry()
        func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
            snapshot.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
        }
        if rt.isSchemaReady, let stats = try? await rt.store.dbStats() {
            gauge("wa_messages_pending", "Messages accepted and not yet acknowledged by the WhatsApp server.").set(to: Double(stats.messagesPending))
            for (state, count) in [("sent", stats.messagesSent), ("delivered", stats.messagesDelivered), ("read", stats.messagesRead)] {
                gauge("wa_messages", "Messages by state.", [("state", state)]).set(to: Double(count))
            }
            gauge("wa_callbacks_pending", "Webhook callbacks waiting for delivery.").set(to: Double(stats.callbacksPending))
            gauge("wa_shards", "Configured shard count.").set(to: Double(stats.shards))
            if let url = rt.settings.webhookURL {
                // A stored URL the nodes cannot call leaves wa_callbacks_pending callbacks unattempted.
                gauge("wa_webhook_url_usable", "1 when webhooks.url is one the nodes can call; 0 leaves callbacks unattempted.")
                    .set(to: (try? WebhookTarget.parse(url)) != nil ? 1 : 0)
            }
        }
        var text = WebappMetrics.registry.emitToString() + snapshot.emitToString()
        // Which node plays which role, likewise: a node that left must vanish, not linger as a series.
        if rt.isSchemaReady, let nodes = try? await rt.store.nodes(), let lease = try? await rt.store.masterLease(), let map = try? await rt.store.shardMap() {
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
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
