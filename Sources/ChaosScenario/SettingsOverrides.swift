/// Application settings to PATCH into `/v1/settings/application` after boot, in logical seconds.
public struct SettingsOverrides: Equatable, Sendable {
    /// `heartbeat_interval`, if the file sets it.
    public var heartbeatInterval: Int?
    /// `unhealthy_interval`, if the file sets it.
    public var unhealthyInterval: Int?
    /// Every other setting, passed through untouched (the product has more than the format knows).
    public var passthrough: [String: ScenarioValue]

    /// Creates overrides; empty means "product defaults".
    public init(heartbeatInterval: Int? = nil, unhealthyInterval: Int? = nil,
                passthrough: [String: ScenarioValue] = [:]) {
        self.heartbeatInterval = heartbeatInterval
        self.unhealthyInterval = unhealthyInterval
        self.passthrough = passthrough
    }

    /// The product's default `heartbeat_interval`, in seconds.
    public static let defaultHeartbeatInterval = 5
    /// The product's default `unhealthy_interval`, in seconds.
    public static let defaultUnhealthyInterval = 30

    /// The heartbeat interval in force: the override or the product default.
    public var effectiveHeartbeatInterval: Int { heartbeatInterval ?? Self.defaultHeartbeatInterval }
    /// The unhealthy interval in force: the override or the product default.
    public var effectiveUnhealthyInterval: Int { unhealthyInterval ?? Self.defaultUnhealthyInterval }

    /// These settings with `later`'s on top: what is in force after a `settings` step.
    public func merging(_ later: SettingsOverrides) -> SettingsOverrides {
        SettingsOverrides(heartbeatInterval: later.heartbeatInterval ?? heartbeatInterval,
                          unhealthyInterval: later.unhealthyInterval ?? unhealthyInterval,
                          passthrough: passthrough.merging(later.passthrough) { $1 })
    }

    /// True when there is nothing to PATCH.
    public var isEmpty: Bool { heartbeatInterval == nil && unhealthyInterval == nil && passthrough.isEmpty }

    /// The PATCH body: every overridden setting under its product key.
    public var applicationSettings: [String: ScenarioValue] {
        var body = passthrough
        if let heartbeatInterval { body["heartbeat_interval"] = .int(heartbeatInterval) }
        if let unhealthyInterval { body["unhealthy_interval"] = .int(unhealthyInterval) }
        return body
    }

    /// Keys the product documents; unknown keys close to one of these are treated as typos.
    static let documentedKeys = [
        "heartbeat_interval", "unhealthy_interval", "webhooks", "callback_backoff_delay_ms",
        "max_callback_backoff_delay_ms", "callback_persist",
    ]
}
