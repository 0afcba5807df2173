import Testing
@testable import WACore

@Suite("Digests and Credentials")
struct CredentialsTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("The quick brown fox jumps over the lazy dog", "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"),
    ])
    func sha256KnownVectors(_ text: String, _ hex: String) {
        #expect(Digests.sha256Hex(text) == hex)
    }

    /// PBKDF2-HMAC-SHA256 test vectors (RFC 7914 §11 and the widely published "password"/"salt" ones).
    @Test(arguments: [
        ("password", "salt", 1, "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"),
        ("password", "salt", 2, "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"),
        ("password", "salt", 4096, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"),
    ])
    func pbkdf2KnownVectors(_ password: String, _ salt: String, _ rounds: Int, _ hex: String) {
        #expect(Digests.hex(Credentials.derive(password, salt: Array(salt.utf8), rounds: rounds)) == hex)
    }

    @Test func storedHashesVerifyAndAreSalted() {
        let a = Credentials.hashPassword("Secret-123", rounds: 1_000)
        let b = Credentials.hashPassword("Secret-123", rounds: 1_000)
        #expect(a != b, "each hash has its own salt")
        #expect(a.hasPrefix("pbkdf2-sha256$1000$"))
        #expect(Credentials.verify("Secret-123", stored: a, legacySalt: "") == .init(matches: true, needsUpgrade: true))
        #expect(Credentials.verify("Secret-124", stored: a, legacySalt: "").matches == false)
        let strong = Credentials.hashPassword("Secret-123")
        #expect(Credentials.verify("Secret-123", stored: strong, legacySalt: "") == .init(matches: true, needsUpgrade: false))
    }

    /// Rows written before PBKDF2 still log in, and say they need upgrading.
    @Test func legacyHashesVerifyOnceAndAskForAnUpgrade() {
        let old = Credentials.legacyHash("secret", salt: "0011223344556677")
        #expect(old.count == 64)
        #expect(Credentials.verify("secret", stored: old, legacySalt: "0011223344556677") == .init(matches: true, needsUpgrade: true))
        #expect(Credentials.verify("Secret", stored: old, legacySalt: "0011223344556677") == .init(matches: false, needsUpgrade: false))
        #expect(Credentials.verify("secret", stored: "garbage$x", legacySalt: "").matches == false)
    }

    @Test func constantTimeEqualCompares() {
        #expect(Digests.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!Digests.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!Digests.constantTimeEqual([1, 2], [1, 2, 3]))
        #expect(Digests.bytes(hex: "00ff10") == [0, 255, 16])
        #expect(Digests.bytes(hex: "0g") == nil)
    }

    @Test func randomHexHasTheRequestedLength() {
        let a = Credentials.randomHex(bytes: 16), b = Credentials.randomHex(bytes: 16)
        #expect(a.count == 32 && a.allSatisfy(\.isHexDigit))
        #expect(a != b)
        #expect(Credentials.randomHex(bytes: 0) == "")
    }

    @Test(arguments: ["Secret1!", "Abcdefg1-", "Zz9_zzzz", String(repeating: "aA1!", count: 16)])
    func passwordsThatFollowTheRule(_ p: String) {
        #expect(Credentials.passwordProblem(p) == nil)
    }

    @Test(arguments: [
        ("Sec1!", "must be 8 to 64 characters long"),
        (String(repeating: "aA1!", count: 16) + "x", "must be 8 to 64 characters long"),
        ("Secret!!x", "must contain a digit (0-9)"),
        ("Secret!!½", "must be printable ASCII characters without spaces"),
        ("Sécret1!x", "must be printable ASCII characters without spaces"),
        ("secret1!x", "must contain an upper-case letter (A-Z)"),
        ("SECRET1!X", "must contain a lower-case letter (a-z)"),
        ("Secret123", "must contain a special character"),
        ("Secret 123", "must be printable ASCII characters without spaces"),
    ])
    func passwordsThatBreakTheRule(_ p: String, _ problem: String) {
        #expect(Credentials.passwordProblem(p) == problem)
    }
}

@Suite("Cluster secret")
struct ClusterSecretTests {
    @Test func proofsVerifyOnlyForTheSameSecretPurposeAndChallenge() throws {
        let s = try ClusterSecret("0123456789abcdef0123")
        let other = try ClusterSecret("0123456789abcdef0124")
        let p = s.proof(.rpcClient, challenge: "c1", nonce: "n1")
        #expect(p.count == 64)
        #expect(s.accepts(p, .rpcClient, challenge: "c1", nonce: "n1"))
        #expect(!other.accepts(p, .rpcClient, challenge: "c1", nonce: "n1"))
        #expect(!s.accepts(p, .rpcServer, challenge: "c1", nonce: "n1"), "a client proof never passes as the server's")
        #expect(!s.accepts(p, .gatewayAdmin, challenge: "c1", nonce: "n1"))
        #expect(!s.accepts(p, .rpcClient, challenge: "c2", nonce: "n1"), "a replay against a new challenge fails")
    }

    @Test func shortSecretsAreRefusedWithTheVariableNamed() {
        #expect(throws: ConfigError.self) { try ClusterSecret("short") }
        do { _ = try ClusterSecret("short") } catch { #expect("\(error)".contains("WA_CLUSTER_SECRET")) }
        #expect(ClusterSecret.generateText().count == 64)
    }

    @Test func theKeyringStartsEmptyWithoutTheVariable() throws {
        #expect(try ClusterSecret.fromEnvironment(Environment([:])) == nil)
        #expect(try ClusterSecret.fromEnvironment(Environment(["WA_CLUSTER_SECRET": "0123456789abcdef"])) != nil)
        let ring = ClusterKeyring()
        #expect(ring.current == nil)
        ring.install(try ClusterSecret("0123456789abcdef"))
        #expect(ring.current != nil)
    }
}
