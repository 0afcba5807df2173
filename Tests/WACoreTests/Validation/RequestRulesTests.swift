import Testing
import WACore

/// The one validator the REST API and node RPC share.
@Suite("Request rules")
struct RequestRulesTests {
    @Test(arguments: ["½½½½½", "Ⅻ Ⅻ Ⅻ Ⅻ Ⅻ", "+1 650 555 1234", "++16505551234", "٦٥٠٥٥٥١٢٣٤", "６５０５５５１２３４", "", "1234", "123456789012345678901", "+", "12a45"])
    func recipientsThatAreNotASCIIDigitsAreRefused(_ to: String) {
        #expect(throws: APIError.self) { try RequestRules.recipient(to) }
        do { _ = try RequestRules.recipient(to) } catch { #expect(error.code == 1009 && error.details.contains("'to'")) }
    }

    @Test(arguments: [("+16505551234", "16505551234"), ("16505551234", "16505551234"), ("12345", "12345")])
    func recipientsAreNormalised(_ to: String, _ digits: String) throws {
        #expect(try RequestRules.recipient(to) == digits)
    }

    @Test func numbersCodesAndPinsAreASCIIDigitsOnly() throws {
        #expect(throws: APIError.self) { try RequestRules.number(cc: "١", phone: "6505551234", pin: nil) }
        #expect(throws: APIError.self) { try RequestRules.number(cc: "1", phone: "６５０５５５１２３４", pin: nil) }
        #expect(throws: APIError.self) { try RequestRules.number(cc: "1", phone: "6505551234", pin: "12345½") }
        try RequestRules.number(cc: "1", phone: "6505551234", pin: "123456")
        #expect(try RequestRules.code("123-456") == "123456")
        #expect(throws: APIError.self) { try RequestRules.code("١٢٣٤٥٦") }
        #expect(throws: APIError.self) { try RequestRules.code("1-2-3-4-5-6") }
    }

    @Test func bodiesKeysCertsAndShards() throws {
        try RequestRules.textBody(String(repeating: "x", count: 4096))
        do { try RequestRules.textBody(String(repeating: "x", count: 4097)) } catch { #expect(error.code == 1001) }
        #expect(throws: APIError.self) { try RequestRules.textBody("") }
        #expect(throws: APIError.self) { try RequestRules.idempotencyKey("") }
        #expect(throws: APIError.self) { try RequestRules.idempotencyKey("has space") }
        #expect(throws: APIError.self) { try RequestRules.idempotencyKey(String(repeating: "k", count: 129)) }
        try RequestRules.idempotencyKey("order-42")
        #expect(throws: APIError.self) { try RequestRules.cert("") }
        #expect(throws: APIError.self) { try RequestRules.cert("not base64!") }
        try RequestRules.cert("eyJjYyI6IjEifQ==")
        #expect(throws: APIError.self) { try RequestRules.shards(3) }
        try RequestRules.shards(32)
        #expect(throws: APIError.self) { try RequestRules.username("ädmin") }
        try RequestRules.username("ops.team-1")
    }

    @Test func idempotencyKeysAreScopedPerUserRegardlessOfCase() {
        #expect(IdempotencyScope.key(user: "Admin", key: "k1") == IdempotencyScope.key(user: "admin", key: "k1"))
        #expect(IdempotencyScope.key(user: "alice", key: "k1") != IdempotencyScope.key(user: "bob", key: "k1"))
    }

    @Test func aStoredMessageNeverOutgrowsTheGatewayFrame() {
        // The longest body, every character escaped as \uXXXX, still fits an RPC line and a frame.
        let worst = RequestRules.maxTextBodyCharacters * 6 + 512
        #expect(worst < WireLimits.nodeRPCRequestBytes)
        #expect(WireLimits.nodeRPCRequestBytes < WireLimits.gatewayFrameBytes)
    }
}

@Suite("Webhook URLs")
struct WebhookTargetTests {
    @Test(arguments: ["https:///in", "http:///hook", "ftp://x/y", "not a url", "http://user:pw@host/x", "https://host/a b"])
    func unusableURLsAreRefusedWithAReason(_ url: String) {
        #expect(throws: WebhookTarget.Unusable.self) { try WebhookTarget.parse(url) }
        #expect(throws: APIError.self) { try ApplicationSettings().applying(patch: ["webhooks": .object(["url": .string(url)])]) }
    }

    @Test func usableURLsParse() throws {
        let t = try WebhookTarget.parse("http://127.0.0.1:8080/hook?x=1")
        #expect(t.hostPort == HostPort(host: "127.0.0.1", port: 8080))
        #expect(t.path == "/hook?x=1")
        #expect(try WebhookTarget.parse("http://hooks.local").path == "/")
        let secure = try WebhookTarget.parse("https://hooks.example/in")
        #expect(secure.scheme == "https")
        #expect(secure.hostPort == HostPort(host: "hooks.example", port: 443))
        #expect(secure.url == "https://hooks.example:443/in")
    }
}
