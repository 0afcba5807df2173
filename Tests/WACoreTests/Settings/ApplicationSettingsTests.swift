import Foundation
import Testing
@testable import WACore

@Suite("ApplicationSettings.applying(patch:)")
struct ApplicationSettingsTests {
    /// The error a patch raises, or nil when it applies.
    private func patchError(_ patch: [String: JSONValue], to base: ApplicationSettings = .init()) -> APIError? {
        do { _ = try base.applying(patch: patch); return nil } catch { return error }
    }

    @Test func defaultsAreTheProductDefaults() {
        let s = ApplicationSettings()
        #expect(s.heartbeatInterval == 5)
        #expect(s.unhealthyInterval == 30)
        #expect(s.callbackBackoffDelayMs == 3000)
        #expect(s.maxCallbackBackoffDelayMs == 900_000)
        #expect(s.callbackPersist && !s.passThrough && !s.sentStatus && s.dbGarbageCollectorEnable)
        #expect(s.webhooks.url == nil && s.webhooks.maxConcurrentRequests == 6)
        #expect(s.webhookURL == nil)
    }

    @Test func onlyTheKeysSentChange() throws {
        let base = ApplicationSettings()
        let s = try base.applying(patch: ["heartbeat_interval": .number(10)])
        var expected = base
        expected.heartbeatInterval = 10
        #expect(s == expected)

        let t = try base.applying(patch: ["sent_status": .bool(true), "callback_backoff_delay_ms": .number(500)])
        expected = base
        expected.sentStatus = true
        expected.callbackBackoffDelayMs = 500
        #expect(t == expected)
    }

    @Test func emptyPatchChangesNothing() throws {
        var base = ApplicationSettings()
        base.unhealthyInterval = 45
        #expect(try base.applying(patch: [:]) == base)
    }

    @Test func webhooksPatchChangesOnlyTheSubkeysSent() throws {
        var base = ApplicationSettings()
        base.webhooks.maxConcurrentRequests = 12
        let s = try base.applying(patch: ["webhooks": .object(["url": .string("http://hooks.example/cb")])])
        #expect(s.webhooks.url == "http://hooks.example/cb")
        #expect(s.webhooks.maxConcurrentRequests == 12)
        #expect(s.webhookURL == "http://hooks.example/cb")

        let cleared = try s.applying(patch: ["webhooks": .object(["url": .string("")])])
        #expect(cleared.webhooks.url == nil)
        #expect(cleared.webhookURL == nil)

        let more = try base.applying(patch: ["webhooks": .object(["max_concurrent_requests": .number(24)])])
        #expect(more.webhooks.maxConcurrentRequests == 24)
        #expect(more.webhooks.url == nil)
    }

    @Test func bothIntervalsInOnePatchAreCheckedTogether() throws {
        let s = try ApplicationSettings().applying(patch: ["heartbeat_interval": .number(40), "unhealthy_interval": .number(60)])
        #expect(s.heartbeatInterval == 40 && s.unhealthyInterval == 60)
    }

    @Test func integralDoublesCountAsIntegers() throws {
        #expect(try ApplicationSettings().applying(patch: ["heartbeat_interval": .number(7.0)]).heartbeatInterval == 7)
    }

    struct BadPatch: Sendable, CustomTestStringConvertible {
        let name: String
        let patch: [String: JSONValue]
        let field: String
        var testDescription: String { name }
    }

    static let badPatches: [BadPatch] = [
        BadPatch(name: "unknown key", patch: ["heartbeat": .number(5)], field: "heartbeat"),
        BadPatch(name: "unknown webhooks key", patch: ["webhooks": .object(["secret": .string("x")])], field: "webhooks.secret"),
        BadPatch(name: "a string not of digits for an integer", patch: ["heartbeat_interval": .string("5s")], field: "heartbeat_interval"),
        BadPatch(name: "a negative number as a string", patch: ["callback_backoff_delay_ms": .string("-1")], field: "callback_backoff_delay_ms"),
        BadPatch(name: "an empty string for an integer", patch: ["unhealthy_interval": .string("")], field: "unhealthy_interval"),
        BadPatch(name: "on_call_pager not a WhatsApp id", patch: ["on_call_pager": .string("pager")], field: "on_call_pager"),
        BadPatch(name: "tcp_listen_address not an address", patch: ["tcp_listen_address": .string("everywhere")], field: "tcp_listen_address"),
        BadPatch(name: "unknown media type", patch: ["media": .object(["auto_download": .array([.string("hologram")])])], field: "media.auto_download"),
        BadPatch(name: "unknown webhooks.message key", patch: ["webhooks": .object(["message": .object(["seen": .bool(true)])])], field: "webhooks.message.seen"),
        BadPatch(name: "log_level not a level", patch: ["log_level": .string("loud")], field: "log_level"),
        BadPatch(name: "wa_id is read-only", patch: ["wa_id": .string("16505551234")], field: "wa_id"),
        BadPatch(name: "fraction for an integer", patch: ["unhealthy_interval": .number(30.5)], field: "unhealthy_interval"),
        BadPatch(name: "null for an integer", patch: ["heartbeat_interval": .null], field: "heartbeat_interval"),
        BadPatch(name: "number for a boolean", patch: ["callback_persist": .number(1)], field: "callback_persist"),
        BadPatch(name: "string for a boolean", patch: ["pass_through": .string("true")], field: "pass_through"),
        BadPatch(name: "string for webhooks", patch: ["webhooks": .string("https://x")], field: "webhooks"),
        BadPatch(name: "number for webhooks.url", patch: ["webhooks": .object(["url": .number(1)])], field: "webhooks.url"),
        BadPatch(name: "non-http webhooks.url", patch: ["webhooks": .object(["url": .string("ftp://x")])], field: "webhooks.url"),
        BadPatch(name: "max_concurrent_requests 7", patch: ["webhooks": .object(["max_concurrent_requests": .number(7)])],
                 field: "webhooks.max_concurrent_requests"),
        BadPatch(name: "heartbeat_interval 0", patch: ["heartbeat_interval": .number(0)], field: "heartbeat_interval"),
        BadPatch(name: "heartbeat_interval 3601", patch: ["heartbeat_interval": .number(3601)], field: "heartbeat_interval"),
        BadPatch(name: "unhealthy_interval 1", patch: ["unhealthy_interval": .number(1)], field: "unhealthy_interval"),
        BadPatch(name: "negative backoff", patch: ["callback_backoff_delay_ms": .number(-1)], field: "callback_backoff_delay_ms"),
        BadPatch(name: "max backoff below backoff", patch: ["max_callback_backoff_delay_ms": .number(100)],
                 field: "max_callback_backoff_delay_ms"),
        BadPatch(name: "unhealthy == heartbeat", patch: ["heartbeat_interval": .number(30)], field: "unhealthy_interval"),
        BadPatch(name: "unhealthy < heartbeat", patch: ["unhealthy_interval": .number(4)], field: "unhealthy_interval"),
        BadPatch(name: "both, unhealthy < heartbeat", patch: ["heartbeat_interval": .number(20), "unhealthy_interval": .number(10)],
                 field: "unhealthy_interval"),
        BadPatch(name: "one good key and one bad key", patch: ["sent_status": .bool(true), "zzz": .number(1)], field: "zzz"),
    ]

    @Test(arguments: badPatches)
    func aBadPatchIsRefusedWith1009AndChangesNothing(_ bad: BadPatch) {
        let original = ApplicationSettings()
        let copy = original
        guard let error = patchError(bad.patch, to: original) else {
            Issue.record("patch \(bad.patch) was accepted")
            return
        }
        #expect(error.code == 1009)
        #expect(error.code == APIErrorCode.parameterInvalid.rawValue)
        #expect(error.title == "Parameter value is not valid")
        // A rule between fields is a 409 (a schema cannot state it); a bad value alone is a 400.
        let crossField = ["max backoff below backoff", "unhealthy == heartbeat", "unhealthy < heartbeat", "both, unhealthy < heartbeat"].contains(bad.name)
        #expect(error.httpStatus == (crossField ? 409 : 400), "\(bad.name): \(error.httpStatus)")
        #expect(error.details.contains("'\(bad.field)'"), "\(error.details)")
        #expect(original == copy)
    }

    @Test func encodesWithTheProductsFieldNames() throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let text = String(decoding: try enc.encode(ApplicationSettings()), as: UTF8.self)
        #expect(text == #"{"callback_backoff_delay_ms":3000,"callback_persist":true,"db_garbagecollector_enable":true,"garbagecollector_enable":{"media":false,"messages":true},"heartbeat_interval":5,"log_level":"info","max_callback_backoff_delay_ms":900000,"media":{"auto_download":[]},"notify_user_change_number":false,"on_call_pager":"","pass_through":false,"sent_status":false,"show_security_notifications":false,"tcp_listen_address":"any","unhealthy_interval":30,"verbose_logging":false,"webhooks":{"max_concurrent_requests":6,"message":{"delivered":true,"read":true,"sent":true},"url":""}}"#)
    }

    @Test func jsonRoundTripKeepsEverySetting() throws {
        var s = ApplicationSettings()
        s.heartbeatInterval = 3
        s.unhealthyInterval = 12
        s.passThrough = true
        s.webhooks.url = "http://127.0.0.1:9/hook"
        s.webhooks.maxConcurrentRequests = 18
        let back = try JSONDecoder().decode(ApplicationSettings.self, from: try JSONEncoder().encode(s))
        #expect(back == s)
    }

    @Test func anUnsetWebhookURLRoundTripsAsNil() throws {
        // Encoding writes nil as "" (the product's shape); decoding reads "" back as nil.
        let back = try JSONDecoder().decode(ApplicationSettings.self, from: try JSONEncoder().encode(ApplicationSettings()))
        #expect(back.webhookURL == nil)
        #expect(back == ApplicationSettings())
    }

    @Test func missingKeysDecodeAsDefaults() throws {
        // Settings written by an older version lack newer keys: they take their defaults.
        let back = try JSONDecoder().decode(ApplicationSettings.self, from: Data(#"{"heartbeat_interval": 7}"#.utf8))
        var expected = ApplicationSettings()
        expected.heartbeatInterval = 7
        #expect(back == expected)
    }

    // MARK: the product's types and coercions

    /// What wabclient (a 2019 client from PyPI) sends as its usual settings: the delays as
    /// strings, and the older fields beside `webhooks`.
    @Test func theClientLibrarysUsualPatchIsAccepted() throws {
        let s = try ApplicationSettings().applying(patch: [
            "on_call_pager": .string("+16505550999"), "webhooks": .object(["url": .string("https://hooks.example/wa")]),
            "tcp_listen_address": .string("any"), "pass_through": .bool(false), "callback_persist": .bool(true),
            "sent_status": .bool(true), "callback_backoff_delay_ms": .string("3000"), "max_callback_backoff_delay_ms": .string("900000"),
            "heartbeat_interval": .number(5), "unhealthy_interval": .number(30),
        ])
        #expect(s.callbackBackoffDelayMs == 3000 && s.maxCallbackBackoffDelayMs == 900_000)
        #expect(s.onCallPager == "16505550999")
        #expect(s.sentStatus && s.tcpListenAddress == "any" && s.webhookURL == "https://hooks.example/wa")
    }

    @Test func integersMayComeAsStringsOfDigits() throws {
        let s = try ApplicationSettings().applying(patch: ["heartbeat_interval": .string("7"), "unhealthy_interval": .string("45"),
                                                            "webhooks": .object(["max_concurrent_requests": .string("12")])])
        #expect(s.heartbeatInterval == 7 && s.unhealthyInterval == 45 && s.webhooks.maxConcurrentRequests == 12)
        // The range is checked on the number the string holds.
        #expect(patchError(["heartbeat_interval": .string("3601")])?.details.contains("between 1 and 3600") == true)
    }

    @Test func everyDocumentedSettingIsStoredAndReturned() throws {
        let s = try ApplicationSettings().applying(patch: [
            "media": .object(["auto_download": .array([.string("image"), .string("audio"), .string("image")])]),
            "garbagecollector_enable": .object(["media": .bool(true)]), "notify_user_change_number": .bool(true),
            "show_security_notifications": .bool(true), "verbose_logging": .bool(true), "log_level": .string("debug"),
            "tcp_listen_address": .string("::1"), "on_call_pager": .string(""),
            "webhooks": .object(["message": .object(["sent": .bool(false), "read": .bool(false)])]),
        ])
        #expect(s.media.autoDownload == ["image", "audio"])
        #expect(s.garbageCollectorEnable.media && s.garbageCollectorEnable.messages)
        #expect(s.notifyUserChangeNumber && s.showSecurityNotifications && s.verboseLogging && s.logLevel == "debug")
        #expect(s.tcpListenAddress == "::1" && s.onCallPager == nil)
        #expect(!s.webhooks.message.sent && s.webhooks.message.delivered && !s.webhooks.message.read)
        let back = try JSONDecoder().decode(ApplicationSettings.self, from: try JSONEncoder().encode(s))
        #expect(back == s)
    }

    /// `sent` is called back when either switch asks for it; `delivered` and `read` by
    /// `webhooks.message`; `failed` always.
    @Test func whichStatusesAreCalledBack() throws {
        var s = ApplicationSettings()
        #expect(s.callsBack(status: "sent") && s.callsBack(status: "delivered") && s.callsBack(status: "read"))
        s.webhooks.message = .init()
        s.webhooks.message.sent = false
        #expect(!s.callsBack(status: "sent"))
        s.sentStatus = true
        #expect(s.callsBack(status: "sent"))
        s.webhooks.message.delivered = false
        s.webhooks.message.read = false
        #expect(!s.callsBack(status: "delivered") && !s.callsBack(status: "read") && s.callsBack(status: "failed"))
    }
}
