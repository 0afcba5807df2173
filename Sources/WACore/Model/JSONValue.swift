import Foundation

/// Any JSON value. Used where the shape is open (settings patches, passthrough fields) and to
/// tell a wrong type from a missing field when validating API input.
public enum JSONValue: Codable, Sendable, Equatable, CustomStringConvertible {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n):
            if n.rounded() == n, abs(n) < 1e15 { try c.encode(Int64(n)) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public var typeName: String {
        switch self {
        case .null: "null"; case .bool: "boolean"; case .number: "number"
        case .string: "string"; case .array: "array"; case .object: "object"
        }
    }

    public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
    public var objectValue: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    /// An integral number, or nil (2.5 and "2" are not integers).
    public var intValue: Int? {
        if case .number(let n) = self, n.rounded() == n, abs(n) < 1e15 { return Int(n) }
        return nil
    }
    public var boolValue: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var numberValue: Double? { if case .number(let n) = self { n } else { nil } }

    public subscript(key: String) -> JSONValue? { objectValue?[key] }

    public var description: String {
        String(decoding: JSONCodec.data(self), as: UTF8.self)
    }

    /// Parses a JSON document; throws a `JSONValue.ParseError` naming what went wrong.
    public static func parse(_ data: Data) throws -> JSONValue {
        do { return try JSONCodec.parse(data) }
        catch { throw ParseError(reason: "\(error)") }
    }

    public struct ParseError: Error, CustomStringConvertible { public let reason: String; public var description: String { reason } }

}
