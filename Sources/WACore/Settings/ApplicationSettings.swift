import Foundation
/// The application settings (`/v1/settings/application`), with the product's field names,
/// types and defaults: every setting the product documents is accepted, stored and returned.
/// Intervals are logical seconds; the settings live in the DB and every node applies them.
public struct ApplicationSettings: Codable, Sendable, Equatable {
    public struct Webhooks: Codable, Sendable, Equatable {
        public var url: String?
        public var maxConcurrentRequests: Int = 6
        /// Which message statuses are called back (the product's `webhooks.message`, v2.41.2+).
        public var message = StatusCallbacks()
        enum CodingKeys: String, CodingKey { case url, maxConcurrentRequests = "max_concurrent_requests", message }
        public init(url: String? = nil) { self.url = url }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let u = try c.decodeIfPresent(String.self, forKey: .url)
            url = (u?.isEmpty ?? true) ? nil : u
            maxConcurrentRequests = try c.decodeIfPresent(Int.self, forKey: .maxConcurrentRequests) ?? 6
            message = try c.decodeIfPresent(StatusCallbacks.self, forKey: .message) ?? StatusCallbacks()
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(url ?? "", forKey: .url)
            try c.encode(maxConcurrentRequests, forKey: .maxConcurrentRequests)
            try c.encode(message, forKey: .message)
        }
    }

    public struct StatusCallbacks: Codable, Sendable, Equatable {
        public var sent = true, delivered = true, read = true
        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            sent = try c.decodeIfPresent(Bool.self, forKey: .sent) ?? true
            delivered = try c.decodeIfPresent(Bool.self, forKey: .delivered) ?? true
            read = try c.decodeIfPresent(Bool.self, forKey: .read) ?? true
        }
    }

    public struct Media: Codable, Sendable, Equatable {
        /// The media types the product downloads by itself; stored and returned (the replica has no media).
        public var autoDownload: [String] = []
        enum CodingKeys: String, CodingKey { case autoDownload = "auto_download" }
        public init() {}
        public init(from decoder: Decoder) throws {
            autoDownload = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent([String].self, forKey: .autoDownload) ?? []
        }
        public static let types = ["audio", "document", "image", "sticker", "video", "voice"]
    }

    public struct GarbageCollector: Codable, Sendable, Equatable {
        public var media = false, messages = true
        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            media = try c.decodeIfPresent(Bool.self, forKey: .media) ?? false
            messages = try c.decodeIfPresent(Bool.self, forKey: .messages) ?? true
        }
    }

    public var heartbeatInterval: Int = 5
    public var unhealthyInterval: Int = 30
    public var callbackBackoffDelayMs: Int = 3000
    public var maxCallbackBackoffDelayMs: Int = 900_000
    public var callbackPersist: Bool = true
    /// A delivered message's content is removed from the database (its id and key stay, so a
    /// retry under the same Idempotency-Key still finds it and is not sent twice).
    public var passThrough: Bool = false
    /// The older switch for `sent` callbacks: true always calls them back; false leaves the
    /// decision to `webhooks.message.sent` (see `callsBack`).
    public var sentStatus: Bool = false
    public var dbGarbageCollectorEnable: Bool = true
    /// The WhatsApp id the primary master sends its critical errors to, as text messages.
    public var onCallPager: String?
    /// Stored and returned; the replica's coreapps take no inbound TCP connections.
    public var tcpListenAddress: String = "any"
    public var media = Media()
    public var garbageCollectorEnable = GarbageCollector()
    public var notifyUserChangeNumber: Bool = false
    public var showSecurityNotifications: Bool = false
    public var verboseLogging: Bool = false
    public var logLevel: String = "info"
    public var webhooks = Webhooks()

    enum CodingKeys: String, CodingKey {
        case heartbeatInterval = "heartbeat_interval", unhealthyInterval = "unhealthy_interval"
        case callbackBackoffDelayMs = "callback_backoff_delay_ms"
        case maxCallbackBackoffDelayMs = "max_callback_backoff_delay_ms"
        case callbackPersist = "callback_persist", passThrough = "pass_through", sentStatus = "sent_status"
        case dbGarbageCollectorEnable = "db_garbagecollector_enable", webhooks
        case onCallPager = "on_call_pager", tcpListenAddress = "tcp_listen_address", media
        case garbageCollectorEnable = "garbagecollector_enable", notifyUserChangeNumber = "notify_user_change_number"
        case showSecurityNotifications = "show_security_notifications", verboseLogging = "verbose_logging", logLevel = "log_level"
    }

    public init() {}

    /// Missing keys take their defaults: settings written by an older version stay readable
    /// after an upgrade adds a field (and the other way round).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = ApplicationSettings.defaults
        heartbeatInterval = try c.decodeIfPresent(Int.self, forKey: .heartbeatInterval) ?? d.heartbeatInterval
        unhealthyInterval = try c.decodeIfPresent(Int.self, forKey: .unhealthyInterval) ?? d.unhealthyInterval
        callbackBackoffDelayMs = try c.decodeIfPresent(Int.self, forKey: .callbackBackoffDelayMs) ?? d.callbackBackoffDelayMs
        maxCallbackBackoffDelayMs = try c.decodeIfPresent(Int.self, forKey: .maxCallbackBackoffDelayMs) ?? d.maxCallbackBackoffDelayMs
        callbackPersist = try c.decodeIfPresent(Bool.self, forKey: .callbackPersist) ?? d.callbackPersist
        passThrough = try c.decodeIfPresent(Bool.self, forKey: .passThrough) ?? d.passThrough
        sentStatus = try c.decodeIfPresent(Bool.self, forKey: .sentStatus) ?? d.sentStatus
        dbGarbageCollectorEnable = try c.decodeIfPresent(Bool.self, forKey: .dbGarbageCollectorEnable) ?? d.dbGarbageCollectorEnable
        let pager = try c.decodeIfPresent(String.self, forKey: .onCallPager)
        onCallPager = (pager?.isEmpty ?? true) ? nil : pager
        tcpListenAddress = try c.decodeIfPresent(String.self, forKey: .tcpListenAddress) ?? d.tcpListenAddress
        media = try c.decodeIfPresent(Media.self, forKey: .media) ?? d.media
        garbageCollectorEnable = try c.decodeIfPresent(GarbageCollector.self, forKey: .garbageCollectorEnable) ?? d.garbageCollectorEnable
        notifyUserChangeNumber = try c.decodeIfPresent(Bool.self, forKey: .notifyUserChangeNumber) ?? d.notifyUserChangeNumber
        showSecurityNotifications = try c.decodeIfPresent(Bool.self, forKey: .showSecurityNotifications) ?? d.showSecurityNotifications
        verboseLogging = try c.decodeIfPresent(Bool.self, forKey: .verboseLogging) ?? d.verboseLogging
        logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel) ?? d.logLevel
        webhooks = try c.decodeIfPresent(Webhooks.self, forKey: .webhooks) ?? d.webhooks
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(heartbeatInterval, forKey: .heartbeatInterval)
        try c.encode(unhealthyInterval, forKey: .unhealthyInterval)
        try c.encode(callbackBackoffDelayMs, forKey: .callbackBackoffDelayMs)
        try c.encode(maxCallbackBackoffDelayMs, forKey: .maxCallbackBackoffDelayMs)
        try c.encode(callbackPersist, forKey: .callbackPersist)
        try c.encode(passThrough, forKey: .passThrough)
        try c.encode(sentStatus, forKey: .sentStatus)
        try c.encode(dbGarbageCollectorEnable, forKey: .dbGarbageCollectorEnable)
        try c.encode(onCallPager ?? "", forKey: .onCallPager)
        try c.encode(tcpListenAddress, forKey: .tcpListenAddress)
        try c.encode(media, forKey: .media)
        try c.encode(garbageCollectorEnable, forKey: .garbageCollectorEnable)
        try c.encode(notifyUserChangeNumber, forKey: .notifyUserChangeNumber)
        try c.encode(showSecurityNotifications, forKey: .showSecurityNotifications)
        try c.encode(verboseLogging, forKey: .verboseLogging)
        try c.encode(logLevel, forKey: .logLevel)
        try c.encode(webhooks, forKey: .webhooks)
    }

    static let defaults = ApplicationSettings()
    public static let logLevels = ["debug", "info", "warning", "error"]
    /// Keys `GET /v1/settings/application` shows that a PATCH may not send.
    public static let readOnly: Set<String> = ["wa_id"]

    public var webhookURL: String? {
        guard let u = webhooks.url, !u.isEmpty else { return nil }
        return u
    }

    /// Whether a status of this kind goes to the webhook: `sent` when either switch asks for it
    /// (`sent_status` is the older spelling, and the product's later default is on), the others
    /// by `webhooks.message`; `failed` always.
    public func callsBack(status: String) -> Bool {
        switch status {
        case "sent": sentStatus || webhooks.message.sent
        case "delivered": webhooks.message.delivered
        case "read": webhooks.message.read
        default: true
        }
    }

    /// Applies a PATCH body: only the keys sent change. Every key is checked for name, type and
    /// range (integers may come as strings of digits, as the product takes them: "3000"), and the
    /// result must keep `unhealthy_interval > heartbeat_interval`. Nothing is changed when any
    /// key is wrong.
    public func applying(patch: [String: JSONValue]) throws(APIError) -> ApplicationSettings {
        var s = self
        for (key, value) in patch.sorted(by: { $0.key < $1.key }) {
            let field = SettingField(name: key, value: value)
            switch key {
            case "heartbeat_interval": s.heartbeatInterval = try field.int(1, 3600)
            case "unhealthy_interval": s.unhealthyInterval = try field.int(2, 3600)
            case "callback_backoff_delay_ms": s.callbackBackoffDelayMs = try field.int(0, 3_600_000)
            case "max_callback_backoff_delay_ms": s.maxCallbackBackoffDelayMs = try field.int(0, 86_400_000)
            case "callback_persist": s.callbackPersist = try field.bool()
            case "pass_through": s.passThrough = try field.bool()
            case "sent_status": s.sentStatus = try field.bool()
            case "db_garbagecollector_enable": s.dbGarbageCollectorEnable = try field.bool()
            case "notify_user_change_number": s.notifyUserChangeNumber = try field.bool()
            case "show_security_notifications": s.showSecurityNotifications = try field.bool()
            case "verbose_logging": s.verboseLogging = try field.bool()
            case "log_level": s.logLevel = try field.oneOf(Self.logLevels)
            case "on_call_pager":
                let pager = try field.string()
                s.onCallPager = pager.isEmpty ? nil : try RequestRules.recipient(pager, field: key)
            case "tcp_listen_address":
                let address = try field.string()
                guard address == "any" || IPAddressText.isLiteral(address) else {
                    throw .invalid(key, "\"any\" or an IPv4 or IPv6 address, got \"\(address)\"")
                }
                s.tcpListenAddress = address
            case "media":
                for (mk, mv) in try field.object() {
                    let sub = SettingField(name: "media.\(mk)", value: mv)
                    switch mk {
                    case "auto_download": s.media.autoDownload = try sub.list(of: Media.types)
                    default: throw .invalid(sub.name, "unknown setting")
                    }
                }
            case "garbagecollector_enable":
                for (gk, gv) in try field.object() {
                    let sub = SettingField(name: "garbagecollector_enable.\(gk)", value: gv)
                    switch gk {
                    case "media": s.garbageCollectorEnable.media = try sub.bool()
                    case "messages": s.garbageCollectorEnable.messages = try sub.bool()
                    default: throw .invalid(sub.name, "unknown setting")
                    }
                }
            case "webhooks":
                for (wk, wv) in try field.object() {
                    let sub = SettingField(name: "webhooks.\(wk)", value: wv)
                    switch wk {
                    case "url":
                        let u = try sub.string()
                        if !u.isEmpty {
                            do { _ = try WebhookTarget.parse(u) } catch { throw .invalid("webhooks.url", error.reason) }
                        }
                        s.webhooks.url = u.isEmpty ? nil : u
                    case "max_concurrent_requests":
                        let n = try sub.int(6, 24)
                        guard [6, 12, 18, 24].contains(n) else { throw .invalid(sub.name, "must be 6, 12, 18 or 24") }
                        s.webhooks.maxConcurrentRequests = n
                    case "message":
                        for (sk, sv) in try sub.object() {
                            let status = SettingField(name: "webhooks.message.\(sk)", value: sv)
                            switch sk {
                            case "sent": s.webhooks.message.sent = try status.bool()
                            case "delivered": s.webhooks.message.delivered = try status.bool()
                            case "read": s.webhooks.message.read = try status.bool()
                            default: throw .invalid(status.name, "unknown setting")
                            }
                        }
                    default: throw .invalid(sub.name, "unknown setting")
                    }
                }
            case _ where ApplicationSettings.readOnly.contains(key): throw .invalid(key, "read-only: it is the registered number (POST /v1/account)")
            default: throw .invalid(key, "unknown setting")
            }
        }
        if s.maxCallbackBackoffDelayMs < s.callbackBackoffDelayMs {
            throw APIError.conflict("max_callback_backoff_delay_ms", "must not be below callback_backoff_delay_ms (\(s.maxCallbackBackoffDelayMs) < \(s.callbackBackoffDelayMs))")
        }
        guard s.unhealthyInterval > s.heartbeatInterval else {
            throw APIError.conflict("unhealthy_interval", "must be greater than heartbeat_interval (\(s.unhealthyInterval) <= \(s.heartbeatInterval))")
        }
        return s
    }
}

/// One key of a settings PATCH, read with the product's types and coercions.
struct SettingField {
    let name: String
    let value: JSONValue

    /// An integer, or a string of ASCII digits holding one ("3000"): the product takes both.
    func int(_ min: Int, _ max: Int) throws(APIError) -> Int {
        let n: Int
        if let i = value.intValue { n = i }
        else if let text = value.stringValue, RequestRules.isASCIIDigits(text), text.utf8.count <= 15, text == "0" || !text.hasPrefix("0"),
                let i = Int(text) { n = i }
        else { throw .invalid(name, "expected an integer (or a string of digits without leading zeros), got \(value.stringValue.map { "\"\($0)\"" } ?? value.typeName)") }
        guard n >= min, n <= max else { throw .invalid(name, "must be between \(min) and \(max), got \(n)") }
        return n
    }
    func bool() throws(APIError) -> Bool {
        guard let b = value.boolValue else { throw .invalid(name, "expected a boolean, got \(value.typeName)") }
        return b
    }
    func string() throws(APIError) -> String {
        guard let s = value.stringValue else { throw .invalid(name, "expected a string, got \(value.typeName)") }
        return s
    }
    func oneOf(_ allowed: [String]) throws(APIError) -> String {
        let s = try string()
        guard allowed.contains(s) else { throw .invalid(name, "must be one of \(allowed.joined(separator: ", ")), got \"\(s)\"") }
        return s
    }
    func object() throws(APIError) -> [(key: String, value: JSONValue)] {
        guard let o = value.objectValue else { throw .invalid(name, "expected an object, got \(value.typeName)") }
        return o.sorted { $0.key < $1.key }
    }
    /// A list of distinct strings, each one of `allowed`.
    func list(of allowed: [String]) throws(APIError) -> [String] {
        guard let a = value.arrayValue else { throw .invalid(name, "expected an array of strings, got \(value.typeName)") }
        var out: [String] = []
        for item in a {
            guard let s = item.stringValue, allowed.contains(s) else {
                throw .invalid(name, "each entry must be one of \(allowed.joined(separator: ", ")), got \(item)")
            }
            if !out.contains(s) { out.append(s) }
        }
        return out
    }
}

/// Whether a text is an IP address literal (v4 dotted quad or v6), without resolving anything.
public enum IPAddressText {
    public static func isLiteral(_ text: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}

/// Where a coreapp POSTs callbacks. Only URLs the nodes can deliver to are accepted: a URL
/// the nodes cannot use must be refused when it is set, not discovered by callbacks that are
/// never attempted.
public struct WebhookTarget: Sendable, Equatable {
    public let scheme: String
    public let hostPort: HostPort
    public let path: String
    /// The URL to call, as checked.
    public let url: String

    public struct Unusable: Error, Sendable { public let reason: String }

    /// The URLs the nodes call, as the OpenAPI document states them: `http://` or `https://`, a
    /// host of letters, digits, '.' and '-', an optional port 1-65535, an optional path and query.
    public static let pattern = #"^https?://[A-Za-z0-9.-]+(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3}))?([/?][A-Za-z0-9._~!$&'()*+,;=:@/?-]*)?$"#
    static let regex = try! NSRegularExpression(pattern: pattern)

    public static func parse(_ url: String) throws(Unusable) -> WebhookTarget {
        guard url.utf8.count <= 2048 else { throw Unusable(reason: "longer than 2048 characters") }
        guard regex.firstMatch(in: url, range: NSRange(url.startIndex..., in: url)) != nil else {
            throw Unusable(reason: "expected https://host[:port][/path][?query] (or http://) with a host of letters, digits, '.' and '-', a port 1-65535, and no spaces, '%' escapes or credentials")
        }
        guard let u = URLComponents(string: url), let scheme = u.scheme?.lowercased() else {
            throw Unusable(reason: "not a URL; expected https://host[:port]/path")
        }
        guard scheme == "http" || scheme == "https" else { throw Unusable(reason: "scheme '\(scheme)' is not supported; expected https://host[:port]/path") }
        guard let host = u.host, !host.isEmpty else { throw Unusable(reason: "has no host; expected https://host[:port]/path") }
        guard u.user == nil, u.password == nil else { throw Unusable(reason: "credentials in the URL are not supported") }
        if let port = u.port, !(1...65535).contains(port) { throw Unusable(reason: "port \(port) is out of range") }
        let path = (u.percentEncodedPath.isEmpty ? "/" : u.percentEncodedPath) + (u.percentEncodedQuery.map { "?\($0)" } ?? "")
        let port = u.port ?? (scheme == "https" ? 443 : 80)
        return WebhookTarget(scheme: scheme, hostPort: HostPort(host: host, port: port), path: path,
                             url: "\(scheme)://\(host):\(port)\(path)")
    }
}

/// The product's webhook retry schedule: linear, attempt n waits n × `callback_backoff_delay_ms`,
/// never more than `max_callback_backoff_delay_ms`.
public enum CallbackBackoff {
    /// Logical seconds to wait after failed attempt number `attempt` (1 is the first).
    public static func delay(afterAttempt attempt: Int, _ s: ApplicationSettings) -> Double {
        Double(min(s.callbackBackoffDelayMs * max(1, attempt), s.maxCallbackBackoffDelayMs)) / 1000
    }
}
