import WACore

/// Names one node, either directly or by the role it plays when the step runs.
public enum NodeSelector: Hashable, Sendable, CustomStringConvertible {
    /// A node by name: `wacore2`, `master1`, `waweb`, `db`, `gateway`.
    case name(String)
    /// The node an earlier step bound with `as: label`, written `$label`.
    case label(String)
    /// The running master holding the master lease.
    case primaryMaster
    /// The lowest-named running master that is not primary.
    case secondaryMaster
    /// The running coreapp owning the shard.
    case owner(shard: Int)
    /// The lowest-named running coreapp owning no shard (connected or not).
    case standby
    /// The lowest-named running node of the role (`coreapp`, `master`, `webapp`).
    case anyOfRole(NodeRole)
    /// A seeded random pick among every node the inner selector matches: `random(standby)` or `any(standby)`.
    indirect case random(NodeSelector)
    /// Every webapp, master and coreapp, written `all`: only as the side that connects in a link
    /// step (`partition: {from: all, to: db}` cuts the database off from the whole cluster).
    case allNodes

    /// The canonical spelling, as accepted by `parse`.
    public var description: String {
        switch self {
        case .name(let name): return name
        case .label(let label): return "$" + label
        case .primaryMaster: return "primary_master"
        case .secondaryMaster: return "secondary_master"
        case .owner(let shard): return "owner(shard: \(shard))"
        case .standby: return "standby"
        case .anyOfRole(let role): return role.rawValue
        case .random(let inner): return "random(\(inner))"
        case .allNodes: return "all"
        }
    }

    /// True for selectors that pick by role at run time (not by name or label).
    public var isRoleBased: Bool {
        switch self {
        case .name, .label: return false
        case .primaryMaster, .secondaryMaster, .owner, .standby, .anyOfRole, .random, .allNodes: return true
        }
    }

    /// Role keywords usable as selectors on their own; anything else bare is a node name.
    static let roleKeywords: [String: NodeSelector] = [
        "primary_master": .primaryMaster,
        "secondary_master": .secondaryMaster,
        "standby": .standby,
        "coreapp": .anyOfRole(.coreapp),
        "master": .anyOfRole(.master),
        "webapp": .anyOfRole(.webapp),
        "all": .allNodes,
    ]
}

/// Two selectors naming a network link: connections opened by `from` towards `to`.
public struct LinkSelector: Hashable, Sendable, CustomStringConvertible {
    /// The side that opens connections: a webapp, master or coreapp, or `all` of them.
    public var from: NodeSelector
    /// The side that accepts them: any node, `db` or `gateway`.
    public var to: NodeSelector

    /// Creates a link selector.
    public init(from: NodeSelector, to: NodeSelector) {
        self.from = from
        self.to = to
    }

    /// `from -> to`, for messages and reports.
    public var description: String { "\(from) -> \(to)" }
}

/// Which traffic a partition drops.
public enum PartitionDirection: String, CaseIterable, Equatable, Sendable {
    /// Nothing passes either way.
    case both
    /// Only traffic from `from` to `to` is dropped.
    case oneWay = "one_way"
}

/// How a partition refuses traffic: `drop` is silence (a SYN never answered, data never acked);
/// `reject` answers at once (a TCP reset, an ICMP error), as a firewall that refuses does.
/// The proxy mesh only drops; `reject` needs `--net netns`.
public enum PartitionMode: String, CaseIterable, Equatable, Sendable {
    case drop
    case reject
}

/// Packet faults below TCP (`--net netns` only: the proxy sees bytes, not packets).
public enum PacketFault: String, CaseIterable, Equatable, Sendable {
    /// A random share of the packets vanish.
    case loss
    /// A random share of the packets arrive twice.
    case duplicate
    /// A random share of the packets arrive with a flipped bit.
    case corrupt
}

/// The network a scenario's hosts are on.
public enum NetworkMode: String, CaseIterable, Equatable, Sendable {
    /// Every host on loopback; links through the runner's userspace proxy mesh (no privileges).
    case proxy
    /// Every host in a network namespace of its own; link faults are kernel rules.
    case netns
    /// `netns` when the runner has the capabilities, else `proxy` (with the capability report).
    case auto
}

/// What a `heal` step repairs.
public enum HealScope: Equatable, Sendable {
    /// Every network fault in place.
    case all
    /// The faults on one link.
    case link(LinkSelector)
}

/// The window a failover must fit in, measured from the most recent fault step.
public enum FailoverBound: Equatable, Sendable {
    /// Heartbeat-based detection: `[u - h, u + h + p]` from the settings.
    case heartbeat
    /// DB-heartbeat-based detection (single master): the node's last DB heartbeat is between 0
    /// and one heartbeat period old when it fails, so `[unhealthy − period, unhealthy + check period + p]`
    /// with the product's DB monitoring intervals (`ClusterTimings`).
    case db
    /// An explicit window in logical seconds.
    case range(min: LogicalSeconds, max: LogicalSeconds)

    /// The window in logical seconds, given the settings and the allowances the runner grants.
    public func logicalWindow(settings: SettingsOverrides, promotionAllowance: LogicalSeconds,
                              timings: ClusterTimings = .standard) -> ClosedRange<LogicalSeconds> {
        switch self {
        case .heartbeat:
            let heartbeat = Double(settings.effectiveHeartbeatInterval)
            let unhealthy = Double(settings.effectiveUnhealthyInterval)
            return (unhealthy - heartbeat)...(unhealthy + heartbeat + promotionAllowance)
        case .db:
            return (timings.dbUnhealthyAfter - timings.dbHeartbeatPeriod)...(timings.dbUnhealthyAfter + timings.dbCheckPeriod + promotionAllowance)
        case .range(let min, let max):
            return min...max
        }
    }
}
