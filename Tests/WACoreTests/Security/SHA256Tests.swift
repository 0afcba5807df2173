import Testing
@testable import WACore

@Suite("SHA256 and Credentials")
struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("The quick brown fox jumps over the lazy dog", "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"),
    ])
    func knownVectors(_ text: String, _ hex: String) {
        #expect(SHA256.hex(text) == hex)
    }

    /// Lengths around the padding boundaries (55/56 bytes: one or two blocks).
    @Test(arguments: [
        (55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        (56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        (63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
        (64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        (65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"),
        (1000, "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3"),
    ])
    func paddingBoundaries(_ length: Int, _ hex: String) {
        #expect(SHA256.hex(String(repeating: "a", count: length)) == hex)
        #expect(SHA256.hash(Array(repeating: UInt8(ascii: "a"), count: length)).count == 32)
    }

    @Test func passwordHashesAreSaltedAndDeterministic() {
        let a = Credentials.hashPassword("secret", salt: "s1")
        #expect(a == Credentials.hashPassword("secret", salt: "s1"))
        #expect(a != Credentials.hashPassword("secret", salt: "s2"))
        #expect(a != Credentials.hashPassword("Secret", salt: "s1"))
        #expect(a.count == 64 && a.allSatisfy(\.isHexDigit))
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
        ("Secret!!x", "must contain a digit"),
        ("secret1!x", "must contain an upper-case letter"),
        ("SECRET1!X", "must contain a lower-case letter"),
        ("Secret123", "must contain a special character"),
        ("Secret 123", "must contain a special character"),
    ])
    func passwordsThatBreakTheRule(_ p: String, _ problem: String) {
        #expect(Credentials.passwordProblem(p) == problem)
    }
}
