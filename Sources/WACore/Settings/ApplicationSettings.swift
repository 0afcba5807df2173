import Foundation
/// The application settings (`/v1/settings/application`), with the product's field names and
/// defaults. Intervals are logical seconds; they live in the DB and every node applies them.
public struct ApplicationSettings: Codable, Sendable, Equatable {
    public struct Webhooks: Codable, Sendable, Equatable {
        public var url: String?
        public var maxConcurrentRequests: Int = 6
        enum CodingKeys: String, CodingKey { case url, maxConcurrentRequests = "max_concurrent_requests" }
        public init(url: String? = nil) { self.url = url }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let u = try c.decodeIfPresent(String.self, forKey: .url)
            url = (u?.isEmpty ?? true) ? nil : u
            maxConcurrentRequests = try c.decodeIfPresent(Int.self, forKey: .maxConcurrentRequests) ?? 6
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(url ?? "", forKey: .url)
            try c.encode(maxConcurrentRequests, forKey: .maxConcurrentRequests)
        }
    }

    public var heartbeatInterval: Int = 5
    public var unhealthyInterval: Int = 30
    public var callbackBackoffDelayMs: Int = 3000
    public var maxCallbackBackoffDelayMs: Int = 900_000
    public var callbackPersist: Bool = true
    public var passThrough: Bool = false
    public var sentStatus: Bool = false
    public var dbGarbageCollectorEnable: Bool = true
    public var webhooks = Webhooks()

    enum CodingKeys: String, CodingKey {
        case heartbeatInterval = "heartbeat_interval", unhealthyInterval = "unhealthy_interval"
        case callbackBackoffDelayMs = "callback_backoff_delay_ms"
        case maxCallbackBackoffDelayMs = "max_callback_backoff_delay_ms"
        case callbackPersist = "callback_persist", passThrough = "pass_through", sentStatus = "sent_status"
        case dbGarbageCollectorEnable = "db_garbagecollector_enable", webhooks
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
        webhooks = try c.decodeIfPresent(Webhooks.self, forKey: .webhooks) ?? d.webhooks
    }

    static let defaults = ApplicationSettings()

    public var webhookURL: String? {
        guard let u = webhooks.url, !u.isEmpty else { return nil }
        return u
    }

    /// Applies a PATCH body: only the keys sent change. Every key is checked for name, type and
    /// range, and the result must keep `unhealthy_interval > heartbeat_interval`. Nothing is
    /// changed when any key is wrong.
    public func applying(patch: [String: JSONValue]) throws(APIError) -> ApplicationSettings {
        var s = self
        for (key, value) in patch.sorted(by: { $0.key < $1.key }) {
            func int(_ min: Int, _ max: Int) throws(APIError) -> Int {
                guard let n = value.intValue else { throw .invalid(key, "expected an integer, got \(value.typeName)") }
                guard n >= min, n <= max else { throw .invalid(key, "must be between \(min) and \(max), got \(n)") }
                return n
            }
            func bool() throws(APIError) -> Bool {
                guard let b = value.boolValue else { throw .invalid(key, "expected a boolean, got \(value.typeName)") }
                return b
            }
            switch key {
            case "heartbeat_interval": s.heartbeatInterval = try int(1, 3600)
            case "unhealthy_interval": s.unhealthyInterval = try int(2, 3600)
            case "callback_backoff_delay_ms": s.callbackBackoffDelayMs = try int(0, 3_600_000)
            case "max_callback_backoff_delay_ms": s.maxCallbackBackoffDelayMs = try int(0, 86_400_000)
            case "callback_persist": s.callbackPersist = try bool()
            case "pass_through": s.passThrough = try bool()
            case "sent_status": s.sentStatus = try bool()
            case "db_garbagecollector_enable": s.dbGarbageCollectorEnable = try bool()
            case "webhooks":
                guard let obj = value.objectValue else { throw .invalid(key, "expected an object, got \(value.typeName)") }
                for (wk, wv) in obj.sorted(by: { $0.key < $1.key }) {
                    switch wk {
                    case "url":
                        guard let u = wv.stringValue else { throw .invalid("webhooks.url", "expected a string, got \(wv.typeName)") }
                        if !u.isEmpty {
                            do { _ = try WebhookTarget.parse(u) } catch { throw .invalid("webhooks.url", error.reason) }
                        }
                        s.webhooks.url = u.isEmpty ? nil : u
                    case "max_concurrent_requests":
                        guard let n = wv.intValue, [6, 12, 18, 24].contains(n) else {
                            throw .invalid("webhooks.max_concurrent_requests", "must be 6, 12, 18 or 24")
                        }
                        s.webhooks.maxConcurrentRequests = n
                    default: throw .invalid("webhooks.\(wk)", "unknown setting")
                    }
                }
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
