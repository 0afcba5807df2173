import WACore

/// The RPC methods cluster nodes answer (masters and coreapps, on the control port).
public enum NodeRPC {
    /// The node's own health entry, exactly as it appears under its key in `/v1/health`.
    public enum Health: RPCMethod { public typealias Params = Empty; public typealias Result = JSONValue; public static let name = "health" }

    /// A master's heartbeat to a coreapp.
    public enum Heartbeat: RPCMethod {
        public struct Params: Codable, Sendable { public var master: String; public init(master: String) { self.master = master } }
        public struct Result: Codable, Sendable {
            public var nodeID: String
            public var shard: Int?
            public var connected: Bool
            public init(nodeID: String, shard: Int?, connected: Bool) { self.nodeID = nodeID; self.shard = shard; self.connected = connected }
        }
        public static let name = "heartbeat"
    }

    /// The primary master's broadcast: settings changed, re-read them now.
    public enum SettingsChanged: RPCMethod {
        public struct Params: Codable, Sendable { public var version: Int; public init(version: Int) { self.version = version } }
        public typealias Result = Empty
        public static let name = "settings_changed"
    }

    /// The primary master's nudge: the shard map changed, re-read it now.
    public enum ShardMapChanged: RPCMethod { public typealias Params = Empty; public typealias Result = Empty; public static let name = "shard_map_changed" }

    /// `POST /v1/messages`, routed by the webapp to the shard's owner.
    public enum SendMessage: RPCMethod {
        public struct Params: Codable, Sendable, JSONValueConvertible {
            public var to: String, body: String, idempotencyKey: String?
            /// What `body` holds: text, or a template document (absent on the wire: text).
            public var kind: MessageKind
            public init(to: String, body: String, idempotencyKey: String?, kind: MessageKind = .text) {
                self.to = to; self.body = body; self.idempotencyKey = idempotencyKey; self.kind = kind
            }
            public init(json: JSONValue) throws {
                guard let to = json["to"]?.stringValue, let body = json["body"]?.stringValue else { throw JSONShapeError("send_message needs to and body") }
                var kind = MessageKind.text
                if let k = json["kind"] {
                    guard let name = k.stringValue, let known = MessageKind(rawValue: name) else { throw JSONShapeError("send_message: kind must be text, template or hsm") }
                    kind = known
                }
                self.init(to: to, body: body, idempotencyKey: json["idempotencyKey"]?.stringValue, kind: kind)
            }
            public var json: JSONValue {
                var o: [String: JSONValue] = ["to": .string(to), "body": .string(body)]
                if let idempotencyKey { o["idempotencyKey"] = .string(idempotencyKey) }
                if kind != .text { o["kind"] = .string(kind.rawValue) }
                return .object(o)
            }
        }
        public struct Result: Codable, Sendable, JSONValueConvertible {
            public var id: String
            public init(id: String) { self.id = id }
            public init(json: JSONValue) throws {
                guard let id = json["id"]?.stringValue else { throw JSONShapeError("send_message answer needs id") }
                self.id = id
            }
            public var json: JSONValue { .object(["id": .string(id)]) }
        }
        public static let name = "send_message"
    }

    /// A node's line of `GET /v1/support`.
    public enum Support: RPCMethod {
        public typealias Params = Empty
        public struct Result: Codable, Sendable, Equatable {
            public var role: String
            public var shards: [[Int]]
            public var socketConn: String
            public var dbEngine: String
            public var multiConnect: Bool
            /// The node's release and the schema it needs (absent from releases before 2.54).
            public var version: String?
            public var schemaVersion: Int?
            enum CodingKeys: String, CodingKey {
                case role, shards, socketConn = "socket_conn", dbEngine = "db_engine", multiConnect = "multi_connect", version, schemaVersion = "schema_version"
            }
            public init(role: String, shards: [[Int]], socketConn: String, dbEngine: String, multiConnect: Bool, version: String? = nil, schemaVersion: Int? = nil) {
                self.role = role; self.shards = shards; self.socketConn = socketConn; self.dbEngine = dbEngine; self.multiConnect = multiConnect
                self.version = version; self.schemaVersion = schemaVersion
            }
        }
        public static let name = "support"
    }

    /// `POST /v1/account`, forwarded to the primary master.
    public enum Register: RPCMethod {
        public struct Params: Codable, Sendable {
            public var cc: String, phoneNumber: String, method: String, cert: String, pin: String?
            public init(cc: String, phoneNumber: String, method: String, cert: String, pin: String?) {
                self.cc = cc; self.phoneNumber = phoneNumber; self.method = method; self.cert = cert; self.pin = pin
            }
        }
        public struct Result: Codable, Sendable {
            /// true: already verified (201); false: a code was sent (202).
            public var registered: Bool
            public var vname: String
            public init(registered: Bool, vname: String) { self.registered = registered; self.vname = vname }
        }
        public static let name = "register"
    }

    /// `POST /v1/account/verify`, forwarded to the primary master.
    public enum Verify: RPCMethod {
        public struct Params: Codable, Sendable { public var code: String; public init(code: String) { self.code = code } }
        public typealias Result = Empty
        public static let name = "verify"
    }

    /// `POST /v1/account/shards`, forwarded to the primary master. Without `cert` it works
    /// within 7 days of registration; after that the cluster is logged off.
    public enum SetShards: RPCMethod {
        public struct Params: Codable, Sendable {
            public var cc: String, phoneNumber: String, shards: Int, cert: String?, pin: String?
            public init(cc: String, phoneNumber: String, shards: Int, cert: String?, pin: String?) {
                self.cc = cc; self.phoneNumber = phoneNumber; self.shards = shards; self.cert = cert; self.pin = pin
            }
        }
        public typealias Result = Empty
        public static let name = "set_shards"
    }

    /// `POST /v1/contacts`, forwarded to the primary master, which asks the WhatsApp server.
    public enum CheckContacts: RPCMethod {
        public struct Params: Codable, Sendable {
            public var contacts: [String]
            /// `blocking: wait`: look every contact up now; `no_wait`: answer what is known and
            /// `processing` for the rest, which are looked up on the side.
            public var wait: Bool
            public init(contacts: [String], wait: Bool) { self.contacts = contacts; self.wait = wait }
        }
        public struct Contact: Codable, Sendable, Equatable {
            public var input: String
            public var status: String
            public var waID: String?
            enum CodingKeys: String, CodingKey { case input, status, waID = "wa_id" }
            public init(input: String, status: String, waID: String?) { self.input = input; self.status = status; self.waID = waID }
        }
        public struct Result: Codable, Sendable { public var contacts: [Contact]; public init(contacts: [Contact]) { self.contacts = contacts } }
        public static let name = "check_contacts"
    }

    /// `POST /v1/settings/restore` of a backup that holds the account: the primary master
    /// stores it (and the WhatsApp server learns the number is this cluster's).
    public enum RestoreAccount: RPCMethod {
        public struct Params: Codable, Sendable {
            public var cc: String, phoneNumber: String, vname: String, shards: Int
            public init(cc: String, phoneNumber: String, vname: String, shards: Int) {
                self.cc = cc; self.phoneNumber = phoneNumber; self.vname = vname; self.shards = shards
            }
        }
        public typealias Result = Empty
        public static let name = "restore_account"
    }

    /// A planned handover's first act, master to owner: leave the gateway for this shard and
    /// free its lease now, so a standby may take it without waiting for the lease to run out.
    public enum ReleaseShard: RPCMethod {
        public struct Params: Codable, Sendable {
            public var shard: Int, epoch: Int
            public init(shard: Int, epoch: Int) { self.shard = shard; self.epoch = epoch }
        }
        public struct Result: Codable, Sendable {
            /// False: this node did not serve that shard in that epoch (nothing was released).
            public var released: Bool
            public init(released: Bool) { self.released = released }
        }
        public static let name = "release_shard"
    }

    /// A planned handover, asked of the primary master (an upgrade moving an owner, or an
    /// operator): release, fence, promote, instead of waiting for failure detection.
    public enum Handover: RPCMethod {
        public struct Params: Codable, Sendable {
            public var shard: Int
            /// The standby to promote (its hostname); nil: the one the planner would choose.
            public var to: String?
            public init(shard: Int, to: String? = nil) { self.shard = shard; self.to = to }
        }
        public struct Result: Codable, Sendable, Equatable {
            public var shard: Int
            public var from: String
            public var to: String
            public var epoch: Int
            /// Whether the owner released on command; false: it did not answer (or runs a release
            /// without `release_shard`), so the successor waits out its lease.
            public var released: Bool
            /// Real seconds from the request until the old owner had released (nil: it did not),
            /// and until the new owner held the shard's lease (nil: not within the wait).
            public var releasedAfter: Double?
            public var acquiredAfter: Double?
            enum CodingKeys: String, CodingKey {
                case shard, from, to, epoch, released, releasedAfter = "released_after", acquiredAfter = "acquired_after"
            }
            public init(shard: Int, from: String, to: String, epoch: Int, released: Bool, releasedAfter: Double?, acquiredAfter: Double?) {
                self.shard = shard; self.from = from; self.to = to; self.epoch = epoch; self.released = released
                self.releasedAfter = releasedAfter; self.acquiredAfter = acquiredAfter
            }
        }
        public static let name = "handover"
    }
}

// The RPC port checks what the REST API checks, with the same rules.
extension NodeRPC.SendMessage.Params: ValidatedParams {
    public func validate() throws(APIError) {
        _ = try RequestRules.recipient(to)
        try RequestRules.content(body, kind: kind)
        try RequestRules.idempotencyKey(idempotencyKey, scoped: true)
    }
}

extension NodeRPC.Register.Params: ValidatedParams {
    public func validate() throws(APIError) {
        try RequestRules.number(cc: cc, phone: phoneNumber, pin: pin)
        try RequestRules.method(method)
        try RequestRules.cert(cert)
    }
}

extension NodeRPC.Verify.Params: ValidatedParams {
    public func validate() throws(APIError) { _ = try RequestRules.code(code) }
}

extension NodeRPC.SetShards.Params: ValidatedParams {
    public func validate() throws(APIError) {
        try RequestRules.number(cc: cc, phone: phoneNumber, pin: pin)
        try RequestRules.shards(shards)
        if let cert { try RequestRules.cert(cert) }
    }
}

extension NodeRPC.Heartbeat.Params: ValidatedParams {
    public func validate() throws(APIError) {
        guard (1...64).contains(master.utf8.count) else { throw APIError.invalid("master", "a node name of 1 to 64 characters") }
    }
}

extension NodeRPC.CheckContacts.Params: ValidatedParams {
    public func validate() throws(APIError) {
        guard (1...RequestRules.maxContactsPerRequest).contains(contacts.count) else {
            throw APIError.invalid("contacts", "1 to \(RequestRules.maxContactsPerRequest) contacts per request, got \(contacts.count)")
        }
        if let long = contacts.first(where: { $0.unicodeScalars.count > 64 }) { throw APIError.invalid("contacts", "a contact of at most 64 characters, got \(long.unicodeScalars.count)") }
    }
}

extension NodeRPC.RestoreAccount.Params: ValidatedParams {
    public func validate() throws(APIError) {
        try RequestRules.number(cc: cc, phone: phoneNumber, pin: nil)
        try RequestRules.shards(shards)
        guard (0...256).contains(vname.utf8.count) else { throw APIError.invalid("vname", "at most 256 characters") }
    }

}

/// A shard number any cluster could have (0 to the largest shard count - 1).
func validateShardIndex(_ shard: Int) throws(APIError) {
    let most = ShardRouter.validShardCounts.max()!
    guard (0..<most).contains(shard) else { throw APIError.invalid("shard", "must be 0 to \(most - 1)") }
}

extension NodeRPC.ReleaseShard.Params: ValidatedParams {
    public func validate() throws(APIError) {
        try validateShardIndex(shard)
        guard epoch >= 0 else { throw APIError.invalid("epoch", "must not be negative") }
    }
}

extension NodeRPC.Handover.Params: ValidatedParams {
    public func validate() throws(APIError) {
        try validateShardIndex(shard)
        if let to, to.isEmpty || to.count > 253 { throw APIError.invalid("to", "must be a coreapp's hostname or node id") }
    }
}
