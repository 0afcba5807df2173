import Foundation
import WACore

/// A node RPC method: its wire name and typed parameters and result.
public protocol RPCMethod {
    associatedtype Params: Codable & Sendable
    associatedtype Result: Codable & Sendable
    static var name: String { get }
}

public struct Empty: Codable, Sendable, Equatable { public init() {} }

struct RequestHeader: Decodable { let id: UInt64; let method: String }
struct RequestEnvelope<P: Codable>: Codable { let id: UInt64; let method: String; let params: P }
struct ResponseHeader: Decodable { let id: UInt64; let error: APIError? }
struct ResponseEnvelope<R: Codable>: Codable { let id: UInt64; let result: R? ; let error: APIError? }

/// A failure to get an answer at all (as opposed to an answer that is an error).
public struct RPCError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable { case unreachable, timeout, closed, malformed }
    public let kind: Kind
    public let peer: String
    public let detail: String
    public var description: String { "\(kind.rawValue) \(peer): \(detail)" }
}
