import Foundation

/// The run id every namespace, interface and rule of one runner carries: the runner's pid and
/// its start time (clock ticks since boot, field 22 of /proc/PID/stat), so a later sweep can
/// tell a live owner from a dead one even after the pid is reused.
public struct RunTag: Hashable, Sendable, CustomStringConvertible {
    public static let prefix = "wachaos"

    public var pid: Int32
    public var startTicks: UInt64

    public init(pid: Int32, startTicks: UInt64) { self.pid = pid; self.startTicks = startTicks }

    /// This process's tag.
    public static func current() -> RunTag {
        let pid = getpid()
        return RunTag(pid: pid, startTicks: processStartTicks(pid) ?? 0)
    }

    /// `wachaos-PID-TICKS`: the prefix of every namespace of the run.
    public var description: String { "\(Self.prefix)-\(pid)-\(startTicks)" }

    /// The nftables table of the run (identifiers take no hyphen).
    public var tableName: String { "\(Self.prefix)_\(pid)_\(startTicks)" }

    /// The runner's own namespace: the bridge every host's veth joins, and the runner itself.
    public var hubNamespace: String { "\(self)-hub" }

    /// The namespace of one host of cluster `cluster` (a scenario's cluster within the run).
    public func namespace(cluster: Int, host: String) -> String { "\(self)-c\(cluster)-\(host)" }

    /// Reads the tag back from a namespace name; nil for names that are not a run's.
    public static func parse(namespace name: String) -> RunTag? {
        let parts = name.split(separator: "-", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0] == Self.prefix, let pid = Int32(parts[1]), pid > 0, let ticks = UInt64(parts[2]) else { return nil }
        return RunTag(pid: pid, startTicks: ticks)
    }

    /// Whether the process that made this tag is still running (same pid, same start time).
    public var ownerIsAlive: Bool {
        guard let ticks = Self.processStartTicks(pid) else { return false }
        return ticks == startTicks
    }

    /// Field 22 of /proc/PID/stat, read after the command name (which may hold spaces and parentheses).
    static func processStartTicks(_ pid: Int32) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After ")": state is field 3, so start time (22) is index 19.
        guard fields.count > 19 else { return nil }
        return UInt64(fields[19])
    }
}

/// Addresses from the benchmarking range 198.18.0.0/15 (RFC 2544): they exist only on the run's
/// veths and bridge, inside its namespaces, never on the machine's own interfaces.
public enum HostAddressing {
    public static let prefixLength = 15
    /// The hub's address on the bridge: where the runner listens for webhooks and delay proxies.
    public static let hub = "198.18.0.1"

    /// Host `index` (0-based) of cluster `cluster` (1-based): 198.18.C.(index + 2) for C < 256,
    /// continuing in 198.19.x, so the hosts of successive clusters of a run never share an address.
    public static func address(cluster: Int, index: Int) throws -> String {
        guard index >= 0, index < 250 else { throw NetHostsError(.tooManyHosts, "a cluster has at most 250 hosts on --net netns, this one asks for host \(index + 1)") }
        let block = (cluster - 1) % 511 + 1 // 1...511: 198.18.1 ... 198.19.255
        return "198.\(18 + block / 256).\(block % 256).\(index + 2)"
    }
}

/// An error of the namespace hosts, with a code and what to do.
public struct NetHostsError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable {
        case missingCapability = "MISSING_CAPABILITY"
        case missingTool = "MISSING_TOOL"
        case missingKernelFeature = "MISSING_KERNEL_FEATURE"
        case commandFailed = "COMMAND_FAILED"
        case tooManyHosts = "TOO_MANY_HOSTS"
        case unknownHost = "UNKNOWN_HOST"
        case notInHub = "NOT_IN_HUB"
    }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
    public var description: String { "\(code.rawValue): \(message)" }
}
