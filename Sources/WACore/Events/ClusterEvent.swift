import Logging

/// The events a node logs for machines, typed: the product writes them through
/// `Logger.event(_:_:)` and the runner and its checkers read them back with
/// `ClusterEvent(name:fields:)`, so neither side spells an event or a field by hand.
public enum ClusterEvent: Equatable, Sendable {
    /// A node process is up and serving (`role` names what it is).
    case nodeStarted(role: String?)
    /// A master won the lease; `validFor` is how long, in logical seconds from this line,
    /// it may act on it by its own monotonic clock (a skewed wall clock does not move it).
    case leaseAcquired(term: Int, validFor: Double?)
    /// A master stopped being primary; `validFor` (may be negative) says when, relative to this
    /// line, its lease had really run out by its monotonic clock.
    case leaseLost(reason: String, validFor: Double?)
    /// A master's role: primary for a term, or secondary (naming the primary it knows of).
    case becamePrimaryMaster(term: Int)
    case becameSecondaryMaster(primary: String?)
    /// A coreapp became the owner of a shard at an epoch.
    case becameOwner(shard: Int, epoch: Int)
    /// A coreapp went (back) to standby; `shard` is the one it left, if any.
    case becameStandby(shard: Int?, reason: String?)
    /// A coreapp's gateway session for a shard is up (masters use shard -1).
    case gatewayConnected(shard: Int, epoch: Int?)
    case gatewayDisconnected(shard: Int, reason: String)
    /// The primary master declared the owner of a shard unhealthy (`path`: heartbeat or db).
    case coreappUnhealthy(hostname: String, shard: Int, path: String?, reason: String?)
    /// An owner gave its shard back on a graceful stop.
    case shardReleased(shard: Int)

    /// The `event` value of the log line.
    public var name: String {
        switch self {
        case .nodeStarted: "node_started"
        case .leaseAcquired: "lease_acquired"
        case .leaseLost: "lease_lost"
        case .becameOwner, .becameStandby, .becamePrimaryMaster, .becameSecondaryMaster: "role_changed"
        case .gatewayConnected: "gateway_connected"
        case .gatewayDisconnected: "gateway_disconnected"
        case .coreappUnhealthy: "coreapp_unhealthy"
        case .shardReleased: "shard_released"
        }
    }

    /// The fields of the log line (besides ts, logical, node, event and msg).
    public var fields: [String: String] {
        var f: [String: String] = [:]
        switch self {
        case .nodeStarted(let role): f["role"] = role
        case .leaseAcquired(let term, let validFor):
            f["term"] = "\(term)"; f["valid_for"] = validFor.map { "\($0)" }
        case .leaseLost(let reason, let validFor):
            f["reason"] = reason; f["valid_for"] = validFor.map { "\($0)" }
        case .becamePrimaryMaster(let term): f["role"] = "primary_master"; f["term"] = "\(term)"
        case .becameSecondaryMaster(let primary): f["role"] = "secondary_master"; f["primary"] = primary ?? ""
        case .becameOwner(let shard, let epoch):
            f["role"] = "owner"; f["shard"] = "\(shard)"; f["epoch"] = "\(epoch)"
        case .becameStandby(let shard, let reason):
            f["role"] = "standby"; f["shard"] = shard.map { "\($0)" }; f["reason"] = reason
        case .gatewayConnected(let shard, let epoch):
            f["shard"] = "\(shard)"; f["epoch"] = epoch.map { "\($0)" }
        case .gatewayDisconnected(let shard, let reason):
            f["shard"] = "\(shard)"; f["reason"] = reason
        case .coreappUnhealthy(let hostname, let shard, let path, let reason):
            f["hostname"] = hostname; f["shard"] = "\(shard)"; f["path"] = path; f["reason"] = reason
        case .shardReleased(let shard): f["shard"] = "\(shard)"
        }
        return f
    }

    /// Reads an event back from a log line's name and fields; nil for events outside this model
    /// (free-form lines, or a line missing a field the model needs).
    public init?(name: String, fields: [String: String]) {
        let int = { (k: String) in fields[k].flatMap { Int($0) } }
        let double = { (k: String) in fields[k].flatMap { Double($0) } }
        switch name {
        case "node_started": self = .nodeStarted(role: fields["role"])
        case "lease_acquired":
            guard let term = int("term") else { return nil }
            self = .leaseAcquired(term: term, validFor: double("valid_for"))
        case "lease_lost": self = .leaseLost(reason: fields["reason"] ?? "", validFor: double("valid_for"))
        case "role_changed":
            switch fields["role"] {
            case "owner":
                guard let shard = int("shard"), let epoch = int("epoch") else { return nil }
                self = .becameOwner(shard: shard, epoch: epoch)
            case "standby": self = .becameStandby(shard: int("shard"), reason: fields["reason"])
            case "primary_master":
                guard let term = int("term") else { return nil }
                self = .becamePrimaryMaster(term: term)
            case "secondary_master": self = .becameSecondaryMaster(primary: fields["primary"].flatMap { $0.isEmpty ? nil : $0 })
            default: return nil
            }
        case "gateway_connected":
            guard let shard = int("shard") else { return nil }
            self = .gatewayConnected(shard: shard, epoch: int("epoch"))
        case "gateway_disconnected":
            guard let shard = int("shard") else { return nil }
            self = .gatewayDisconnected(shard: shard, reason: fields["reason"] ?? "")
        case "coreapp_unhealthy":
            guard let host = fields["hostname"], let shard = int("shard") else { return nil }
            self = .coreappUnhealthy(hostname: host, shard: shard, path: fields["path"], reason: fields["reason"])
        case "shard_released":
            guard let shard = int("shard") else { return nil }
            self = .shardReleased(shard: shard)
        default: return nil
        }
    }
}

extension Logger {
    /// Logs a typed cluster event, with extra free fields for people (never read by machines).
    public func event(_ e: ClusterEvent, _ message: @autoclosure () -> String, extra: [String: String] = [:],
                      level: Logger.Level = .info) {
        event(e.name, message(), e.fields.merging(extra) { a, _ in a }, level: level)
    }
}
