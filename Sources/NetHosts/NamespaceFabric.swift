import CProcessShim
import Foundation
import WACore

/// One host of a cluster: a node, the gateway or the db, alone in its network namespace.
public struct NamespaceHost: Sendable, Hashable {
    public var name: String
    public var namespace: String
    public var address: String
    /// Where `ip netns add` bound it: what a child joins with setns.
    public var path: String { NamespaceFabric.path(of: namespace) }
}

/// The run's network: the hub namespace with its bridge, and per cluster one namespace per host
/// joined to the bridge by a veth pair. Every link fault is a `KernelRule` in the sending host's
/// namespace; the rules of a host are rewritten whole from the set in force, so a heal leaves
/// exactly what was there before. Nothing is ever created in the machine's own namespace.
public final class NamespaceFabric: Sendable {
    public static let bridge = "br0"
    public static let device = "eth0"
    static func path(of namespace: String) -> String { "/run/netns/\(namespace)" }

    public let tag: RunTag
    public let features: KernelFeatures
    private struct State {
        var hosts: [String: NamespaceHost] = [:]
        var clusterOf: [String: Int] = [:]
        var rules: [String: [KernelRule]] = [:]
        /// Hosts whose last rewrite failed part-way: the kernel may hold anything, so the next
        /// rewrite replaces both their nftables table and their qdiscs.
        var dirty: Set<String> = []
    }
    private let state = Locked(State())

    public init(tag: RunTag, features: KernelFeatures) {
        self.tag = tag
        self.features = features
    }

    // MARK: the hub

    /// Creates the hub: a namespace with loopback and the bridge, the bridge holding the hub's address.
    public static func createHub(tag: RunTag) throws {
        let hub = tag.hubNamespace
        _ = try? HostCommand.outcome(["ip", "netns", "del", hub])
        try HostCommand.run(["ip", "netns", "add", hub])
        try HostCommand.run(["ip", "-n", hub, "link", "set", "lo", "up"])
        try HostCommand.run(["ip", "-n", hub, "link", "add", bridge, "type", "bridge"])
        try HostCommand.run(["ip", "-n", hub, "addr", "add", "\(HostAddressing.hub)/\(HostAddressing.prefixLength)", "dev", bridge])
        try HostCommand.run(["ip", "-n", hub, "link", "set", bridge, "up"])
    }

    /// Whether the calling thread is in `tag`'s hub (after the runner re-executed itself there).
    public static func isInHub(tag: RunTag) -> Bool {
        let hub = wa_network_namespace_inode(path(of: tag.hubNamespace))
        return hub != 0 && hub == wa_current_network_namespace()
    }

    /// Moves the calling thread into the namespace at `path` (a benchmark's thread; the runner
    /// moves itself by re-executing, since a process's other threads would stay behind).
    public static func enterOnThisThread(_ namespacePath: String) throws {
        let r = wa_enter_network_namespace(namespacePath)
        guard r == 0 else { throw NetHostsError(.commandFailed, "setns(\(namespacePath)) failed: \(String(cString: strerror(-r)))") }
    }

    // MARK: hosts

    /// Creates one namespace per name for cluster `cluster`, each with its veth on the bridge
    /// and its own address; returns them by name.
    public func addHosts(cluster: Int, names: [String]) throws -> [String: NamespaceHost] {
        let hub = tag.hubNamespace
        var made: [String: NamespaceHost] = [:]
        for (i, name) in names.enumerated() {
            let host = NamespaceHost(name: name, namespace: tag.namespace(cluster: cluster, host: name),
                                     address: try HostAddressing.address(cluster: cluster, index: i))
            let ns = host.namespace
            _ = try? HostCommand.outcome(["ip", "netns", "del", ns])
            try HostCommand.run(["ip", "netns", "add", ns])
            state.withLock { $0.hosts[name] = host; $0.clusterOf[name] = cluster }
            let veth = "v\(cluster % 10000)x\(i)"
            try HostCommand.run(["ip", "-n", hub, "link", "add", veth, "type", "veth", "peer", "name", Self.device, "netns", ns])
            try HostCommand.run(["ip", "-n", hub, "link", "set", veth, "master", Self.bridge, "up"])
            try HostCommand.run(["ip", "-n", ns, "link", "set", "lo", "up"])
            try HostCommand.run(["ip", "-n", ns, "addr", "add", "\(host.address)/\(HostAddressing.prefixLength)", "dev", Self.device])
            try HostCommand.run(["ip", "-n", ns, "link", "set", Self.device, "up"])
            made[name] = host
        }
        return made
    }

    /// Removes cluster `cluster`'s namespaces (their veths, rules and qdiscs go with them).
    /// Processes still inside (a PostgreSQL backend finishing) are killed first: the run started them.
    public func removeHosts(cluster: Int) {
        let gone = state.withLock { s -> [NamespaceHost] in
            let names = s.clusterOf.filter { $0.value == cluster }.map(\.key)
            defer { for n in names { s.hosts[n] = nil; s.clusterOf[n] = nil; s.rules[n] = nil } }
            return names.compactMap { s.hosts[$0] }
        }
        NamespaceSweeper.remove(gone.map(\.namespace), killing: true)
    }

    public func host(_ name: String) throws -> NamespaceHost {
        guard let h = state.withLock({ $0.hosts[name] }) else { throw NetHostsError(.unknownHost, "\(name) has no namespace in this run") }
        return h
    }

    public var hosts: [String: NamespaceHost] { state.withLock { $0.hosts } }

    // MARK: rules

    /// The rules in force per host.
    public var rules: [String: [KernelRule]] { state.withLock { $0.rules } }

    /// Puts `rules` in force for every host named (a host left out keeps its rules); only the
    /// hosts whose rules change are rewritten.
    public func setRules(_ rules: [String: [KernelRule]]) throws {
        let (before, dirty) = state.withLock { ($0.rules, $0.dirty) }
        for (name, list) in rules.sorted(by: { $0.key < $1.key }) {
            let old = before[name] ?? []
            let unsure = dirty.contains(name)
            guard old != list || unsure else { continue }
            let host = try host(name)
            do {
                if unsure || old.filter({ !$0.isTrafficControl }) != list.filter({ !$0.isTrafficControl }) {
                    try HostCommand.run(["ip", "netns", "exec", host.namespace, "nft", "-f", "-"],
                                        input: NFTablesScript.render(table: tag.tableName, rules: list))
                }
                if unsure || old.filter(\.isTrafficControl) != list.filter(\.isTrafficControl) {
                    for (i, argv) in TrafficControlPlan.commands(device: Self.device, rules: list).enumerated() {
                        if i == 0 { _ = try HostCommand.outcome(["ip", "netns", "exec", host.namespace, "tc"] + argv) }
                        else { try HostCommand.run(["ip", "netns", "exec", host.namespace, "tc"] + argv) }
                    }
                }
            } catch {
                state.withLock { _ = $0.dirty.insert(name) }
                throw error
            }
            state.withLock { $0.rules[name] = list.isEmpty ? nil : list; $0.dirty.remove(name) }
        }
    }

    /// What the kernel holds in a host's namespace now: its nftables ruleset and its veth's qdiscs.
    public func kernelState(of name: String) throws -> String {
        let ns = try host(name).namespace
        let rules = try HostCommand.run(["ip", "netns", "exec", ns, "nft", "list", "ruleset"])
        let qdiscs = try HostCommand.run(["ip", "netns", "exec", ns, "tc", "qdisc", "show", "dev", Self.device])
        return rules + qdiscs
    }

    /// Aborts `from`'s TCP connections to `address` (and port), sending the peer a reset (`ss -K`).
    public func resetConnections(from name: String, to address: String, port: Int? = nil) throws {
        let ns = try host(name).namespace
        var filter = ["dst", address]
        if let port { filter += ["dport", "=", ":\(port)"] }
        let r = try HostCommand.outcome(["ip", "netns", "exec", ns, "ss", "-K"] + filter)
        // Without CONFIG_INET_DIAG_DESTROY, ss -K kills nothing and still exits 0.
        if r.status != 0 { throw NetHostsError(.commandFailed, "ss -K in \(ns) exited \(r.status): \(r.errors)") }
    }

    /// Deletes the hub's name (the runner stays inside until it exits; the kernel frees it then).
    public func removeHub() {
        _ = try? HostCommand.outcome(["ip", "netns", "del", tag.hubNamespace])
    }
}
