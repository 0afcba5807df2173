import Crypto
import Foundation

/// The key every node-to-node connection and every gateway admin request proves knowledge of.
/// It never crosses the wire: each side answers the other's random challenge with
/// HMAC-SHA256(secret, context | challenge | nonce).
public struct ClusterSecret: Sendable, Equatable {
    public static let variable = "WA_CLUSTER_SECRET"
    public static let minimumLength = 16
    let key: [UInt8]

    public init(_ text: String) throws(ConfigError) {
        guard text.utf8.count >= Self.minimumLength else {
            throw ConfigError(.invalidValue, variable: Self.variable,
                              detail: "must be at least \(Self.minimumLength) characters (e.g. `openssl rand -hex 32`)")
        }
        key = Array(text.utf8)
    }

    /// The embedded database's password as the db node's key: any non-empty text.
    public init(databasePassword: String) { key = Array("wa-db-node|\(databasePassword)".utf8) }

    /// A fresh random secret (64 hex digits), for the database's copy and for test clusters.
    public static func generateText() -> String { Credentials.randomHex(bytes: 32) }

    /// What the operator gave, or nil.
    public static func fromEnvironment(_ env: Environment) throws(ConfigError) -> ClusterSecret? {
        guard let text = env[variable], !text.isEmpty else { return nil }
        return try ClusterSecret(text)
    }

    /// Which side of which protocol a proof is for: a proof made for one never passes for another.
    public enum Purpose: String, Sendable {
        case rpcClient = "wa-rpc-client-v1", rpcServer = "wa-rpc-server-v1", gatewayAdmin = "wa-gateway-admin-v1"
    }

    public func proof(_ purpose: Purpose, challenge: String, nonce: String) -> String {
        let message = Array("\(purpose.rawValue)|\(challenge)|\(nonce)".utf8)
        return Digests.hex(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// Checks a peer's proof in constant time.
    public func accepts(_ proof: String, _ purpose: Purpose, challenge: String, nonce: String) -> Bool {
        Digests.constantTimeEqual(Array(self.proof(purpose, challenge: challenge, nonce: nonce).utf8), Array(proof.utf8))
    }

    /// A challenge or nonce: 128 random bits as hex.
    public static func challenge() -> String { Credentials.randomHex(bytes: 16) }
}

/// The cluster secret as a node knows it: from `WA_CLUSTER_SECRET` at start, or later from the
/// database (where the first node to start put a generated one). Until then connections are
/// refused, never let through.
public final class ClusterKeyring: Sendable {
    private let secret: Locked<ClusterSecret?>
    public init(_ secret: ClusterSecret? = nil) { self.secret = Locked(secret) }
    public var current: ClusterSecret? { secret.value }
    public func install(_ s: ClusterSecret) { secret.withLock { $0 = s } }
}
