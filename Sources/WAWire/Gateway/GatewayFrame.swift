import Foundation
import WACore

/// One line of the gateway protocol (the simulated WhatsApp server).
///
/// Session: the client sends `hello` (phone, shard, node, epoch); the gateway answers
/// `welcome` or `refused` (reason), then sends `ping` every second (scaled) and expects
/// `pong` with the same `seq`; three missed pings and the connection is dead.
/// Messages: `message` (id, to, body) is answered by `ack` (status sent), later `status`
/// (delivered; read when asked). `sync` (ids) is answered by `sync_result` (the ids the server
/// already has), so a new owner resends exactly what never arrived. `inbound` carries a
/// message from a user (id, from, body).
/// Admin (one request per connection): `admin` with `op` = `request_code`, `verify_code`,
/// `check_cert`, `get_code`, `inject_inbound` (cc, phone_number, from, body), `mark_read`
/// (id), `message_count` (id), `check_contacts` (ids: answered with `ids` on WhatsApp and `absent`
/// not), `set_contacts` (ids on WhatsApp, `absent` not: what a chaos step decides),
/// `restore_account` (cc, phone_number, vname); answered by one `admin_result` (`ok`, `reason`, fields).
/// A `message` carries `kind` when it is not text (`template`, `hsm`: `body` is the template as JSON).
public struct GatewayFrame: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case hello, welcome, refused, ping, pong, bye
        case message, ack, status, inbound
        /// A new session asks which of its pending message ids the server already has.
        case sync, syncResult = "sync_result"
        case admin, adminResult = "admin_result"
        /// Asked before an admin request; answered with a `nonce` the request's `auth` must cover.
        case challenge
    }
    public var type: Kind
    public var phone: String?
    public var shard: Int?
    public var node: String?
    public var epoch: Int?
    public var seq: Int?
    public var id: String?
    public var to: String?
    public var body: String?
    public var status: String?
    public var reason: String?
    public var op: String?
    public var cc: String?
    public var phoneNumber: String?
    public var method: String?
    public var cert: String?
    public var code: String?
    public var vname: String?
    public var ok: Bool?
    public var verified: Bool?
    public var ids: [String]?
    public var from: String?
    public var shards: Int?
    public var count: Int?
    public var nonce: String?
    public var auth: String?
    public var kind: String?
    public var absent: [String]?

    enum CodingKeys: String, CodingKey {
        case type, phone, shard, node, epoch, seq, id, to, body, status, reason, op, cc
        case phoneNumber = "phone_number", method, cert, code, vname, ok, verified, ids, from, shards, count, nonce, auth, kind, absent
    }

    public init(_ type: Kind) { self.type = type }

    /// The frame as one JSON line (hand-written: this is on the per-message path).
    public func encodedLine() -> Data {
        var o: [String: JSONValue] = ["type": .string(type.rawValue)]
        func put(_ k: String, _ v: String?) { if let v { o[k] = .string(v) } }
        func put(_ k: String, _ v: Int?) { if let v { o[k] = .number(Double(v)) } }
        func put(_ k: String, _ v: Bool?) { if let v { o[k] = .bool(v) } }
        put("phone", phone); put("shard", shard); put("node", node); put("epoch", epoch); put("seq", seq); put("id", id)
        put("to", to); put("body", body); put("status", status); put("reason", reason); put("op", op); put("cc", cc)
        put("phone_number", phoneNumber); put("method", method); put("cert", cert); put("code", code); put("vname", vname)
        put("ok", ok); put("verified", verified); put("from", from); put("shards", shards); put("count", count)
        put("nonce", nonce); put("auth", auth); put("kind", kind)
        if let ids { o["ids"] = .array(ids.map { .string($0) }) }
        if let absent { o["absent"] = .array(absent.map { .string($0) }) }
        var out: [UInt8] = []
        out.reserveCapacity(160)
        JSONCodec.write(.object(o), into: &out)
        out.append(0x0A)
        return Data(out)
    }

    /// Parses one line; nil when it is not a gateway frame.
    public static func decode(_ line: Data) -> GatewayFrame? {
        guard let v = try? JSONCodec.parse(line), let o = v.objectValue, let t = o["type"]?.stringValue, let kind = Kind(rawValue: t) else { return nil }
        var f = GatewayFrame(kind)
        f.phone = o["phone"]?.stringValue; f.shard = o["shard"]?.intValue; f.node = o["node"]?.stringValue; f.epoch = o["epoch"]?.intValue
        f.seq = o["seq"]?.intValue; f.id = o["id"]?.stringValue; f.to = o["to"]?.stringValue; f.body = o["body"]?.stringValue
        f.status = o["status"]?.stringValue; f.reason = o["reason"]?.stringValue; f.op = o["op"]?.stringValue; f.cc = o["cc"]?.stringValue
        f.phoneNumber = o["phone_number"]?.stringValue; f.method = o["method"]?.stringValue; f.cert = o["cert"]?.stringValue
        f.code = o["code"]?.stringValue; f.vname = o["vname"]?.stringValue; f.ok = o["ok"]?.boolValue; f.verified = o["verified"]?.boolValue
        f.from = o["from"]?.stringValue; f.shards = o["shards"]?.intValue; f.count = o["count"]?.intValue
        f.nonce = o["nonce"]?.stringValue; f.auth = o["auth"]?.stringValue; f.kind = o["kind"]?.stringValue
        if case .array(let a)? = o["ids"] { f.ids = a.compactMap(\.stringValue) }
        if case .array(let a)? = o["absent"] { f.absent = a.compactMap(\.stringValue) }
        return f
    }
}

/// The simulated verified-name certificate: base64 of a JSON document naming the number.
/// `wacluster gateway cert` prints one. A real cert is opaque; ours is readable so that
/// tests and users can make right and wrong ones on purpose.
public struct SimulatedCert: Codable, Sendable, Equatable {
    public var cc: String
    public var phoneNumber: String
    public var vname: String
    /// Unix seconds after which the cert is expired (nil: never).
    public var expires: Double?

    enum CodingKeys: String, CodingKey { case cc, phoneNumber = "phone_number", vname, expires }

    public init(cc: String, phoneNumber: String, vname: String, expires: Double? = nil) {
        self.cc = cc; self.phoneNumber = phoneNumber; self.vname = vname; self.expires = expires
    }

    public var base64: String { ((try? JSONCodec.encodedData(self)) ?? Data()).base64EncodedString() }

    public static func decode(_ base64: String) -> SimulatedCert? {
        guard let data = Data(base64Encoded: base64) else { return nil }
        return try? JSONCodec.decode(SimulatedCert.self, from: data)
    }
}
