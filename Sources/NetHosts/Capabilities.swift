import CLibCap
import Foundation

/// A Linux capability the namespace hosts need, with what it is needed for.
public enum Capability: String, CaseIterable, Sendable, Codable {
    case netAdmin = "CAP_NET_ADMIN"
    case sysAdmin = "CAP_SYS_ADMIN"
    case netRaw = "CAP_NET_RAW"
    case kill = "CAP_KILL"

    var value: cap_value_t {
        switch self {
        case .netAdmin: CAP_NET_ADMIN
        case .sysAdmin: CAP_SYS_ADMIN
        case .netRaw: CAP_NET_RAW
        case .kill: CAP_KILL
        }
    }

    /// What the runner does with it, in the words of the report.
    public var neededFor: String {
        switch self {
        case .netAdmin: "veth pairs, the bridge, addresses, nftables rules (partition, loss) and tc qdiscs (bandwidth)"
        case .sysAdmin: "creating network namespaces (ip netns add) and moving nodes into them (setns)"
        case .netRaw: "nothing these rules need (nftables reject and ss -K go through netlink under CAP_NET_ADMIN); reported because raw-socket tools a scenario's run: step calls may"
        case .kill: "signalling a node that runs as another user (the PostgreSQL server) and sweeping a dead run's namespaces"
        }
    }

    /// The scenario steps that cannot run without it on `--net netns`.
    public var steps: [String] {
        switch self {
        case .netAdmin: ["every step (the hosts themselves)", "partition", "loss", "bandwidth", "delay", "reset"]
        case .sysAdmin: ["every step (the hosts themselves)"]
        case .netRaw: ["run: steps that open raw sockets"]
        case .kill: ["kill, stop, pause of the db on postgres"]
        }
    }
}

/// The capabilities of this process, as libcap reads them (`cap_get_proc`).
public struct CapabilitySet: Sendable, Equatable {
    public var effective: Set<Capability>
    /// Kept across exec by a process that is not root (the ambient set): what `ip`, `nft`, `tc`
    /// and the runner's own re-exec get when the runner is not uid 0.
    public var ambient: Set<Capability>
    public var isRoot: Bool

    public init(effective: Set<Capability>, ambient: Set<Capability> = [], isRoot: Bool = true) {
        self.effective = effective
        self.ambient = ambient
        self.isRoot = isRoot
    }

    /// The running process's effective set. Unreadable (no /proc, a seccomp filter) reads as empty.
    public static func current() -> CapabilitySet {
        guard let caps = cap_get_proc() else { return CapabilitySet(effective: []) }
        defer { cap_free(UnsafeMutableRawPointer(caps)) }
        var have: Set<Capability> = []
        var ambient: Set<Capability> = []
        for c in Capability.allCases {
            var flag = CAP_CLEAR
            if cap_get_flag(caps, c.value, CAP_EFFECTIVE, &flag) == 0, flag == CAP_SET { have.insert(c) }
            if cap_get_ambient(c.value) == 1 { ambient.insert(c) }
        }
        return CapabilitySet(effective: have, ambient: ambient, isRoot: getuid() == 0)
    }

    /// Those of `needed` the tools would not get: absent from the effective set, or, for a
    /// runner that is not root, absent from the ambient set (lost at exec).
    public func missing(_ needed: [Capability]) -> [Capability] {
        needed.filter { !effective.contains($0) || (!isRoot && !ambient.contains($0)) }
    }
}

/// What `--net netns` needs of the machine and what it found: capabilities and tools.
public struct HostReadiness: Sendable, Equatable {
    /// Needed for the hosts at all; `kill` only matters for a db of another user, so it is reported, not required.
    public static let required: [Capability] = [.netAdmin, .sysAdmin]
    public static let recommended: [Capability] = [.netRaw, .kill]
    public static let tools = ["ip", "nft", "tc"]

    public var capabilities: CapabilitySet
    /// Programs named in `tools` that are not on the PATH.
    public var missingTools: [String]

    public init(capabilities: CapabilitySet, missingTools: [String]) {
        self.capabilities = capabilities
        self.missingTools = missingTools
    }

    public static func probe(path: String = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin") -> HostReadiness {
        let dirs = (path + ":/usr/sbin:/sbin").split(separator: ":").map(String.init)
        let missing = tools.filter { tool in !dirs.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") } }
        return HostReadiness(capabilities: .current(), missingTools: missing)
    }

    public var missingRequired: [Capability] { capabilities.missing(Self.required) }
    public var canHostNamespaces: Bool { missingRequired.isEmpty && missingTools.isEmpty }

    /// The capability report: what is there, what is missing, and which steps each missing one stops.
    public var report: String {
        var lines = ["capabilities (libcap, effective set): " + Capability.allCases.map { "\($0.rawValue) \(capabilities.effective.contains($0) ? "yes" : "no")" }.joined(separator: ", ")]
        for c in capabilities.missing(Self.required + Self.recommended) {
            if capabilities.effective.contains(c) {
                lines.append("  \(c.rawValue) is effective but not ambient, and this runner is not root: ip, nft and tc would start without it (raise it with capsh --addamb=\(c.rawValue.lowercased()), or run as root); needed for \(c.neededFor)")
            } else {
                lines.append("  missing \(c.rawValue): needed for \(c.neededFor); steps: \(c.steps.joined(separator: ", "))")
            }
        }
        for t in missingTools { lines.append("  missing tool \(t): install \(t == "nft" ? "nftables" : "iproute2")") }
        return lines.joined(separator: "\n")
    }
}
