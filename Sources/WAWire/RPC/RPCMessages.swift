import Foundation
import WACore

/// A node RPC method: its wire name and typed parameters and result.
public protocol RPCMethod: SendableMetatype {
    associatedtype Params: Codable & Sendable
    associatedtype Result: Codable & Sendable
    static var name: String { get }
}

public struct Empty: Codable, Sendable, Equatable, JSONValueConvertible {
    public init() {}
    public init(json: JSONValue) throws {}
    public var json: JSONValue { .object([:]) }
}

/// Types on the per-message path convert to and from `JSONValue` by hand (no Codable machinery
/// at all); other types go through Codable over the already parsed value (`JSONCodec.decode`).
public protocol JSONValueConvertible {
    init(json: JSONValue) throws
    var json: JSONValue { get }
}

public struct JSONShapeError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}

enum RPCCodec {
    static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        if let v = value as? JSONValueConvertible { return v.json }
        return try JSONCodec.encode(value)
    }
    static func decode<T: Decodable>(_ type: T.Type, _ json: JSONValue) throws -> T {
        if let t = type as? JSONValueConvertible.Type { return try t.init(json: json) as! T }
        return try JSONCodec.decode(T.self, from: json)
    }
    static func line(_ object: [String: JSONValue]) -> Data {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        JSONCodec.write(.object(object), into: &out)
        out.append(0x0A)
        return Data(out)
    }
}


/// A failure to get an answer at all (as opposed to an answer that is an error).
public struct RPCError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable { case unreachable, timeout, closed, malformed, refused }
    public let kind: Kind
    public let peer: String
    public let detail: String
    public var description: String { "\(kind.rawValue) \(peer): \(detail)" }
}

extension JSONValue: JSONValueConvertible {
    public init(json: JSONValue) throws { self = json }
    public var json: JSONValue { self }
}
