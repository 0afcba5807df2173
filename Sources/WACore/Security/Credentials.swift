import Crypto
import Foundation
import _CryptoExtras

/// SHA-256 as hex, for token hashes (tokens are 256 random bits: a fast hash is right for them).
public enum Digests {
    public static func sha256Hex(_ text: String) -> String { hex(Array(SHA256.hash(data: Array(text.utf8)))) }
    public static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
    public static func bytes(hex: String) -> [UInt8]? {
        guard hex.utf8.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(hex.utf8.count / 2)
        var it = hex.utf8.makeIterator()
        while let a = it.next(), let b = it.next() {
            guard let hi = nibble(a), let lo = nibble(b) else { return nil }
            out.append(hi << 4 | lo)
        }
        return out
    }
    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Compares without an early exit, so the time taken says nothing about where two values differ.
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var diff: UInt8 = 0
        for i in a.indices { diff |= a[i] ^ b[i] }
        return diff == 0
    }
}

/// Password hashes and random tokens.
///
/// A stored hash is `pbkdf2-sha256$<rounds>$<salt hex>$<hash hex>` (PBKDF2-HMAC-SHA256 from
/// swift-crypto). Rows written before it hold 64 hex digits of 2,000 rounds of salted SHA-256
/// with the salt in its own column: they still verify, and `verify` says they need upgrading,
/// which the webapp does at that login. Every verification costs one PBKDF2 run whatever the row
/// holds, and `burnOneVerification` costs the same for a user that does not exist, so the time a
/// login takes does not tell which usernames exist.
public enum Credentials {
    /// OWASP's floor for PBKDF2-HMAC-SHA256, and swift-crypto's checked minimum.
    public static let rounds = 210_000
    static let scheme = "pbkdf2-sha256"

    public static func hashPassword(_ password: String, salt: [UInt8] = randomBytes(16), rounds: Int = rounds) -> String {
        "\(scheme)$\(rounds)$\(Digests.hex(salt))$\(Digests.hex(derive(password, salt: salt, rounds: rounds)))"
    }

    public struct Verification: Equatable, Sendable {
        public var matches: Bool
        /// The row is in the old format (or weaker than today's rounds): store a fresh hash.
        public var needsUpgrade: Bool
        public init(matches: Bool, needsUpgrade: Bool) { self.matches = matches; self.needsUpgrade = needsUpgrade }
    }

    /// Checks `password` against a stored hash (and, for old rows, their separate salt column).
    public static func verify(_ password: String, stored: String, legacySalt: String) -> Verification {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        if parts.count == 4, parts[0] == scheme, let r = Int(parts[1]), r >= 1,
           let salt = Digests.bytes(hex: String(parts[2])), let expected = Digests.bytes(hex: String(parts[3])) {
            let ok = Digests.constantTimeEqual(derive(password, salt: salt, rounds: r), expected)
            return Verification(matches: ok, needsUpgrade: ok && r < rounds)
        }
        // Old format: the same PBKDF2 cost first, so old and new rows take the same time.
        burnOneVerification()
        let ok = Digests.constantTimeEqual(Array(legacyHash(password, salt: legacySalt).utf8), Array(stored.utf8))
        return Verification(matches: ok, needsUpgrade: ok)
    }

    /// As long as a real verification, for a username that does not exist.
    public static func burnOneVerification() { _ = derive("not a password", salt: dummySalt, rounds: rounds) }
    private static let dummySalt = randomBytes(16)

    static func derive(_ password: String, salt: [UInt8], rounds: Int) -> [UInt8] {
        // Only rounds below 1 throw, and callers pass at least 1.
        let key = try! KDF.Insecure.PBKDF2.deriveKey(from: Array(password.utf8), salt: salt, using: .sha256,
                                                     outputByteCount: 32, unsafeUncheckedRounds: max(1, rounds))
        return key.withUnsafeBytes { Array($0) }
    }

    /// The format written before PBKDF2: kept only to verify (and then upgrade) old rows.
    public static func legacyHash(_ password: String, salt: String) -> String {
        var digest = Array(SHA256.hash(data: Array((salt + ":" + password).utf8)))
        for _ in 1..<2_000 { digest = Array(SHA256.hash(data: digest + Array(salt.utf8))) }
        return Digests.hex(digest)
    }

    public static func randomBytes(_ count: Int) -> [UInt8] {
        var rng = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    public static func randomHex(bytes: Int) -> String { Digests.hex(randomBytes(bytes)) }

    /// The product's password rule, stated the same way in the OpenAPI document: 8–64 printable
    /// ASCII characters (no spaces) with a digit, an upper-case and a lower-case letter and a
    /// special character.
    public static func passwordProblem(_ p: String) -> String? {
        let u = Array(p.utf8)
        guard (8...64).contains(u.count) else { return "must be 8 to 64 characters long" }
        guard u.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else { return "must be printable ASCII characters without spaces" }
        guard u.contains(where: { $0 >= 0x30 && $0 <= 0x39 }) else { return "must contain a digit (0-9)" }
        guard u.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) else { return "must contain an upper-case letter (A-Z)" }
        guard u.contains(where: { $0 >= 0x61 && $0 <= 0x7A }) else { return "must contain a lower-case letter (a-z)" }
        guard u.contains(where: { !(($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A)) }) else {
            return "must contain a special character"
        }
        return nil
    }
}
