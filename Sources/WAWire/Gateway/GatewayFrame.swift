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
/// (id), `message_count` (id); answered by one `admin_result` (`ok`, `reason`, fields).
public struct GatewayFrame: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case hello, welcome, refused, ping, pong, bye
        case message, ack, status, inbound
        /// A new session asks which of its pending message ids the server already has.
        case sync, syncResult = "sync_result"
        case admin, adminResult = "admin_result"
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

    enum CodingKeys: String, CodingKey {
        case type, phone, shard, node, epoch, seq, id, to, body, status, reason, op, cc
        case phoneNumber = "phone_number", method, cert, code, vname, ok, verified, ids, from, shards, count
    }

    public init(_ type: Kind) { self.type = type }

    public func encodedLine() -> Data {
        var d = (try? JSONEncoder().encode(self)) ?? Data()
        d.append(0x0A)
        return d
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

    public var base64: String { ((try? JSONEncoder().encode(self)) ?? Data()).base64EncodedString() }

    public static func decode(_ base64: String) -> SimulatedCert? {
        guard let data = Data(base64Encoded: base64) else { return nil }
        return try? JSONDecoder().decode(SimulatedCert.self, from: data)
    }
}
