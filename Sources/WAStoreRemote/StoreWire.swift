import Foundation
import WACore
import WACoordination
import WAStore
import WAWire

/// The db node's requests and answers as JSON. The operations on the message path (accepting,
/// statuses, callbacks, the shard map, nodes, tokens, leases) are converted by hand: Foundation's
/// coders cost a third of the db node's and the coreapps' CPU under load (measured with
/// `perf` during `wachaos bench messages`). The rest travel as Codable under `"codable"`.
extension StoreRequest: JSONValueConvertible {
    public var json: JSONValue {
        func op(_ name: String, _ fields: [String: JSONValue] = [:]) -> JSONValue {
            var o = fields
            o["op"] = .string(name)
            return .object(o)
        }
        switch self {
        case .acceptMessages(let batch): return op("accept", ["batch": .array(batch.map(\.json))])
        case .applyStatuses(let updates, let at, let stamp):
            var f: [String: JSONValue] = ["updates": .array(updates.map { u in .array([.string(u.id), .string(u.state.rawValue)] + (u.failure.map { [.string($0)] } ?? [])) }), "at": at.json]
            if let stamp {
                f["stamp"] = .number(Double(stamp.unixTime))
                if !stamp.silenced.isEmpty { f["silenced"] = .array(stamp.silenced.map { .string($0.rawValue) }) }
            }
            return op("statuses", f)
        case .pendingMessages(let shard, let limit): return op("pending", ["shard": .int(shard), "limit": .int(limit)])
        case .dueCallbacks(let shard, let now, let limit): return op("due", ["shard": .int(shard), "now": now.json, "limit": .int(limit)])
        case .completeCallbacks(let ids): return op("complete", ["ids": .array(ids.map { .number(Double($0)) })])
        case .retryCallbacks(let retries, let error):
            return op("retry", ["retries": .array(retries.map { .array([.number(Double($0.id)), .int($0.attempts), $0.nextAttemptAt.json]) }),
                                "error": .string(error)])
        case .enqueueCallback(let shard, let kind, let payload, let at):
            return op("enqueue", ["shard": .int(shard), "kind": .string(kind), "payload": .string(payload), "at": at.json])
        case .recordInbound(let id, let shard, let sender, let body, let at):
            return op("inbound", ["id": .string(id), "shard": .int(shard), "sender": .string(sender), "body": .string(body), "at": at.json])
        case .shardMap: return op("shardMap")
        case .nodes: return op("nodes")
        case .account: return op("account")
        case .masterLease: return op("masterLease")
        case .dbStats: return op("dbStats")
        case .token(let hash): return op("token", ["hash": .string(hash)])
        case .touchNode(let id, let at): return op("touch", ["node": .string(id), "at": at.json])
        case .renewMasterLease(let node, let term, let ttl):
            return op("renewMaster", ["node": .string(node), "term": .int(term), "ttl": .number(ttl)])
        case .acquireShardLease(let shard, let epoch, let node, let ttl):
            return op("acquireShard", ["shard": .int(shard), "epoch": .int(epoch), "node": .string(node), "ttl": .number(ttl)])
        case .renewShardLease(let shard, let epoch, let node, let ttl):
            return op("renewShard", ["shard": .int(shard), "epoch": .int(epoch), "node": .string(node), "ttl": .number(ttl)])
        default:
            return .object(["codable": (try? JSONCodec.encode(self)) ?? .null])
        }
    }

    public init(json: JSONValue) throws {
        if let codable = json["codable"] {
            self = try JSONCodec.decode(StoreRequest.self, from: codable)
            return
        }
        let r = WireReader(json)
        switch try r.string("op") {
        case "accept": self = .acceptMessages(try r.array("batch").map(MessageRecord.init(wire:)))
        case "statuses":
            let updates = try r.array("updates").map { v -> StatusUpdate in
                guard case .array(let pair) = v, pair.count == 2 || pair.count == 3, let id = pair[0].stringValue,
                      let state = pair[1].stringValue.flatMap(MessageState.init(rawValue:)) else { throw WireReader.bad("updates") }
                return StatusUpdate(id: id, state: state, failure: pair.count == 3 ? pair[2].stringValue : nil)
            }
            let silenced = try (json["silenced"]?.arrayValue ?? []).map { v -> MessageState in
                guard let s = v.stringValue.flatMap(MessageState.init(rawValue:)) else { throw WireReader.bad("silenced") }
                return s
            }
            self = .applyStatuses(updates, at: try r.instant("at"), callbacks: try r.optionalInt("stamp").map { CallbackStamp(unixTime: $0, silenced: silenced) })
        case "pending": self = .pendingMessages(shard: try r.int("shard"), limit: try r.int("limit"))
        case "due": self = .dueCallbacks(shard: try r.int("shard"), now: try r.instant("now"), limit: try r.int("limit"))
        case "complete": self = .completeCallbacks(try r.array("ids").map { try WireReader.int64($0, "ids") })
        case "retry":
            let retries = try r.array("retries").map { v -> CallbackRetry in
                guard case .array(let t) = v, t.count == 3, let attempts = t[1].intValue, let at = t[2].doubleValue else { throw WireReader.bad("retries") }
                return CallbackRetry(id: try WireReader.int64(t[0], "retries"), attempts: attempts, nextAttemptAt: LogicalInstant(seconds: at))
            }
            self = .retryCallbacks(retries, error: try r.string("error"))
        case "enqueue": self = .enqueueCallback(shard: try r.int("shard"), kind: try r.string("kind"), payload: try r.string("payload"), at: try r.instant("at"))
        case "inbound":
            self = .recordInbound(id: try r.string("id"), shard: try r.int("shard"), sender: try r.string("sender"), body: try r.string("body"), at: try r.instant("at"))
        case "shardMap": self = .shardMap
        case "nodes": self = .nodes
        case "account": self = .account
        case "masterLease": self = .masterLease
        case "dbStats": self = .dbStats
        case "token": self = .token(hash: try r.string("hash"))
        case "touch": self = .touchNode(try r.string("node"), at: try r.instant("at"))
        case "renewMaster": self = .renewMasterLease(node: try r.string("node"), term: try r.int("term"), ttl: try r.double("ttl"))
        case "acquireShard": self = .acquireShardLease(shard: try r.int("shard"), epoch: try r.int("epoch"), node: try r.string("node"), ttl: try r.double("ttl"))
        case "renewShard": self = .renewShardLease(shard: try r.int("shard"), epoch: try r.int("epoch"), node: try r.string("node"), ttl: try r.double("ttl"))
        case let other: throw JSONShapeError("unknown storage operation '\(other)'")
        }
    }
}

extension StoreResponse: JSONValueConvertible {
    public var json: JSONValue {
        func kind(_ name: String, _ value: JSONValue? = nil) -> JSONValue {
            var o: [String: JSONValue] = ["kind": .string(name)]
            if let value { o["value"] = value }
            return .object(o)
        }
        switch self {
        case .done: return kind("done")
        case .int(let v): return kind("int", .int(v))
        case .bool(let v): return kind("bool", .bool(v))
        case .ids(let ids): return kind("ids", .array(ids.map { .string($0) }))
        case .statusChanges(let changes):
            return kind("changes", .array(changes.map { c in .array([.string(c.id), .int(c.shard), .string(c.recipient), .string(c.state.rawValue)] + (c.failure.map { [.string($0)] } ?? [])) }))
        case .messages(let list): return kind("messages", .array(list.map(\.json)))
        case .callbacks(let list):
            return kind("callbacks", .array(list.map {
                .array([.number(Double($0.id)), .int($0.shard), .string($0.kind), .string($0.payload), .int($0.attempts), $0.nextAttemptAt.json])
            }))
        case .shardMap(let map):
            return kind("shardMap", .object(["count": .int(map.shardCount), "asOf": map.asOf.json, "rows": .array(map.rows.map(\.json))]))
        case .nodes(let nodes): return kind("nodes", .array(nodes.map(\.json)))
        case .token(let t):
            return kind("token", t.map { .array([.string($0.tokenHash), .string($0.username), .number($0.expiresAt)]) } ?? .null)
        case .failure(let e): return kind("failure", .object(["code": .string(e.code.rawValue), "message": .string(e.message)]))
        default:
            return .object(["codable": (try? JSONCodec.encode(self)) ?? .null])
        }
    }

    public init(json: JSONValue) throws {
        if let codable = json["codable"] {
            self = try JSONCodec.decode(StoreResponse.self, from: codable)
            return
        }
        let r = WireReader(json)
        let value = json["value"] ?? .null
        switch try r.string("kind") {
        case "done": self = .done
        case "int": self = .int(try r.int("value"))
        case "bool":
            guard let b = value.boolValue else { throw WireReader.bad("value") }
            self = .bool(b)
        case "ids": self = .ids(try r.array("value").map { try WireReader.string($0, "value") })
        case "changes":
            self = .statusChanges(try r.array("value").map { v in
                guard case .array(let t) = v, t.count == 4 || t.count == 5, let id = t[0].stringValue, let shard = t[1].intValue, let recipient = t[2].stringValue,
                      let state = t[3].stringValue.flatMap(MessageState.init(rawValue:)) else { throw WireReader.bad("value") }
                return StatusChange(id: id, shard: shard, recipient: recipient, state: state, failure: t.count == 5 ? t[4].stringValue : nil)
            })
        case "messages": self = .messages(try r.array("value").map(MessageRecord.init(wire:)))
        case "callbacks":
            self = .callbacks(try r.array("value").map { v in
                guard case .array(let t) = v, t.count == 6, let shard = t[1].intValue, let kind = t[2].stringValue, let payload = t[3].stringValue,
                      let attempts = t[4].intValue, let next = t[5].doubleValue else { throw WireReader.bad("value") }
                return CallbackRecord(id: try WireReader.int64(t[0], "value"), shard: shard, kind: kind, payload: payload, attempts: attempts,
                                      nextAttemptAt: LogicalInstant(seconds: next))
            })
        case "shardMap":
            let m = WireReader(value)
            self = .shardMap(ShardMapSnapshot(shardCount: try m.int("count"), rows: try m.array("rows").map(ShardAssignment.init(wire:)), asOf: try m.instant("asOf")))
        case "nodes": self = .nodes(try r.array("value").map(NodeRecord.init(wire:)))
        case "token":
            if value == .null { self = .token(nil); return }
            guard case .array(let t) = value, t.count == 3, let hash = t[0].stringValue, let user = t[1].stringValue, let exp = t[2].doubleValue else {
                throw WireReader.bad("value")
            }
            self = .token(TokenRecord(tokenHash: hash, username: user, expiresAt: exp))
        case "failure":
            let f = WireReader(value)
            guard let code = StoreError.Code(rawValue: try f.string("code")) else { throw WireReader.bad("code") }
            self = .failure(StoreError(code, try f.string("message")))
        case let other: throw JSONShapeError("unknown storage answer '\(other)'")
        }
    }
}

/// Field access with one error naming the field, for the hand-converted records.
struct WireReader {
    let value: JSONValue
    init(_ value: JSONValue) { self.value = value }

    static func bad(_ field: String) -> JSONShapeError { JSONShapeError("storage message field '\(field)' is missing or has the wrong type") }
    static func string(_ v: JSONValue, _ field: String) throws -> String { guard let s = v.stringValue else { throw bad(field) }; return s }
    static func int64(_ v: JSONValue, _ field: String) throws -> Int64 {
        guard let d = v.doubleValue, d.rounded() == d, abs(d) < 9e15 else { throw bad(field) }
        return Int64(d)
    }

    func string(_ k: String) throws -> String { try Self.string(value[k] ?? .null, k) }
    func optionalString(_ k: String) -> String? { value[k]?.stringValue }
    func int(_ k: String) throws -> Int { guard let n = value[k]?.intValue else { throw Self.bad(k) }; return n }
    func optionalInt(_ k: String) throws -> Int? {
        guard let v = value[k], v != .null else { return nil }
        guard let n = v.intValue else { throw Self.bad(k) }
        return n
    }
    func double(_ k: String) throws -> Double { guard let d = value[k]?.doubleValue else { throw Self.bad(k) }; return d }
    func optionalDouble(_ k: String) -> Double? { value[k]?.doubleValue }
    func instant(_ k: String) throws -> LogicalInstant { LogicalInstant(seconds: try double(k)) }
    func array(_ k: String) throws -> [JSONValue] { guard case .array(let a)? = value[k] else { throw Self.bad(k) }; return a }
}

extension JSONValue {
    static func int(_ n: Int) -> JSONValue { .number(Double(n)) }
    var doubleValue: Double? { if case .number(let d) = self { d } else { nil } }
}

extension LogicalInstant {
    var json: JSONValue { .number(seconds) }
}

extension MessageRecord {
    var json: JSONValue {
        var o: [String: JSONValue] = ["id": .string(id), "shard": .int(shard), "to": .string(recipient), "body": .string(body),
                                      "state": .string(state.rawValue), "by": .string(acceptedBy), "at": acceptedAt.json]
        if let idempotencyKey { o["key"] = .string(idempotencyKey) }
        if kind != .text { o["kind"] = .string(kind.rawValue) }
        return .object(o)
    }
    init(wire v: JSONValue) throws {
        let r = WireReader(v)
        guard let state = MessageState(rawValue: try r.string("state")) else { throw WireReader.bad("state") }
        // No "kind": text (and what a node of an earlier version sends).
        let kind = try r.optionalString("kind").map { k throws -> MessageKind in
            guard let kind = MessageKind(rawValue: k) else { throw WireReader.bad("kind") }
            return kind
        } ?? .text
        self.init(id: try r.string("id"), shard: try r.int("shard"), recipient: try r.string("to"), body: try r.string("body"),
                  idempotencyKey: r.optionalString("key"), state: state, acceptedBy: try r.string("by"), acceptedAt: try r.instant("at"),
                  kind: kind)
    }
}

extension ShardAssignment {
    var json: JSONValue {
        var o: [String: JSONValue] = ["shard": .int(shard), "epoch": .int(epoch), "fence": fenceUntil.json]
        if let owner { o["owner"] = .string(owner) }
        if let leaseUntil { o["lease"] = leaseUntil.json }
        return .object(o)
    }
    init(wire v: JSONValue) throws {
        let r = WireReader(v)
        self.init(shard: try r.int("shard"), owner: r.optionalString("owner"), epoch: try r.int("epoch"), fenceUntil: try r.instant("fence"),
                  leaseUntil: r.optionalDouble("lease").map(LogicalInstant.init(seconds:)))
    }
}

extension NodeRecord {
    var json: JSONValue {
        var o: [String: JSONValue] = ["id": .string(nodeID), "host": .string(hostname), "role": .string(role.rawValue), "rpc": .string(rpcAddress.description),
                                      "version": .string(version), "registered": registeredAt.json, "heartbeat": heartbeatAt.json]
        if let schemaVersion { o["schema"] = .int(schemaVersion) }
        return .object(o)
    }
    init(wire v: JSONValue) throws {
        let r = WireReader(v)
        guard let role = NodeRole(rawValue: try r.string("role")), let rpc = HostPort(try r.string("rpc")) else { throw WireReader.bad("role or rpc") }
        self.init(nodeID: try r.string("id"), hostname: try r.string("host"), role: role, rpcAddress: rpc, version: try r.string("version"),
                  registeredAt: try r.instant("registered"), heartbeatAt: try r.instant("heartbeat"), schemaVersion: v["schema"]?.intValue)
    }
}
