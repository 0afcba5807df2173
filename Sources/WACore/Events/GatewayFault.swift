/// Misbehaviour of the simulated WhatsApp server, set by the chaos runner through the gateway's
/// admin port (`op: fault`). Durations are logical. One vocabulary for the gateway, the
/// scenario parser and the runner.
public enum GatewayFault: Equatable, Sendable, CustomStringConvertible {
    /// Every ack goes out this much later.
    case delayAcks(milliseconds: Int)
    /// Messages are received and journalled but never acked, for one shard or every shard.
    case dropAcks(shard: Int?)
    /// Every new session is refused until healed.
    case refuseConnections
    /// The live session of one shard (or of every shard) is closed now; reconnects are allowed.
    case dropSession(shard: Int?)
    /// The account is banned: every session is closed and every hello refused for this long.
    case ban(seconds: Double)
    /// `delivered` statuses go out this much later.
    case delayStatuses(milliseconds: Int)
    /// Back to normal behaviour (a ban runs its course).
    case heal

    /// The spelling in scenario files and on the admin wire.
    public enum Kind: String, CaseIterable, Sendable {
        case delayAcks = "delay_acks", dropAcks = "drop_acks", refuseConnections = "refuse_connections"
        case dropSession = "drop_session", ban, delayStatuses = "delay_statuses", heal
    }

    public var kind: Kind {
        switch self {
        case .delayAcks: .delayAcks
        case .dropAcks: .dropAcks
        case .refuseConnections: .refuseConnections
        case .dropSession: .dropSession
        case .ban: .ban
        case .delayStatuses: .delayStatuses
        case .heal: .heal
        }
    }

    /// The shard the fault is limited to; nil when it hits every shard (or none).
    public var shard: Int? {
        switch self {
        case .dropAcks(let s), .dropSession(let s): s
        default: nil
        }
    }

    public var description: String {
        switch self {
        case .delayAcks(let ms): "delay_acks \(ms) ms"
        case .dropAcks(let s): "drop_acks \(s.map { "shard \($0)" } ?? "all shards")"
        case .refuseConnections: "refuse_connections"
        case .dropSession(let s): "drop_session \(s.map { "shard \($0)" } ?? "all shards")"
        case .ban(let s): "ban \(Int(s)) s"
        case .delayStatuses(let ms): "delay_statuses \(ms) ms"
        case .heal: "heal"
        }
    }

}

public struct GatewayFaultError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}
