import ChaosScenario
import Foundation
import LinkProxy
import NetHosts
import WACore
import WATestKit

/// Link faults as kernel rules in the hosts' namespaces (`--net netns`). The product dials plain
/// `host:port`; a partition is an nftables rule in the sender's namespace, a bandwidth limit a
/// tc class on its veth. A delay needs netem, which this kernel may lack: then a scenario that
/// delays links has every link redirected (nftables DNAT, set before the nodes start) through a
/// pass-through proxy on the hub, which delays when asked, as the proxy mesh does; partitions
/// and packet faults stay kernel rules on that path too (`ct original`). The report says so.
final class KernelLinks: LinkFabric {
    let fabric: NamespaceFabric
    let cluster: LocalCluster
    let seed: UInt64
    /// The rules in force, by the pair they were injected on (`a|b`, sorted): a heal of the
    /// pair removes exactly those.
    private var rulesByPair: [String: [(host: String, rule: KernelRule)]] = [:]
    /// Delay proxies on the hub, by directed link, started on the first delay of that link.
    private var proxies: [String: LinkProxy] = [:]
    /// Rules no heal removes: the redirects of links routed through the hub's proxies.
    private var routes: [(host: String, rule: KernelRule)] = []
    private(set) var notes: [String] = []

    init(fabric: NamespaceFabric, cluster: LocalCluster, seed: UInt64) {
        self.fabric = fabric
        self.cluster = cluster
        self.seed = seed
    }

    var mode: NetworkMode { .netns }

    static func pair(_ a: String, _ b: String) -> String { [a, b].sorted().joined(separator: "|") }

    private func address(_ name: String) throws -> String {
        guard let node = cluster.nodes[name], node.networkNamespace != nil else {
            throw RunnerError("\(name) has no host of its own on --net netns (an existing database server is outside the run's namespaces)")
        }
        return node.host
    }

    private func require(_ need: KernelFeatures.Need) throws {
        if let missing = fabric.features.missing(for: need) { throw RunnerError(missing) }
    }

    /// Adds rules under the pair and puts every host's set in force.
    private func add(_ pair: String, _ rules: [(host: String, rule: KernelRule)]) throws {
        rulesByPair[pair, default: []] += rules
        try apply()
    }

    private func apply() throws {
        var desired: [String: [KernelRule]] = [:]
        for name in fabric.hosts.keys { desired[name] = [] }
        let faults = rulesByPair.keys.sorted().flatMap { rulesByPair[$0] ?? [] }
        for entry in routes + faults where !(desired[entry.host]?.contains(entry.rule) ?? false) {
            desired[entry.host, default: []].append(entry.rule)
        }
        try fabric.setRules(desired)
    }

    func partition(_ from: String, _ to: String, oneWay: Bool, mode: PartitionMode) throws {
        try require(mode == .reject ? .reject : .partition)
        let a = try address(from), b = try address(to)
        func rule(_ peer: String) -> KernelRule { mode == .reject ? .reject(to: peer) : .drop(to: peer) }
        var rules = [(host: from, rule: rule(b))]
        if !oneWay { rules.append((host: to, rule: rule(a))) }
        try add(Self.pair(from, to), rules)
        // Connections the hub's proxies carry reach each end from the hub's address, where the
        // rules above do not see the answers of a one-way cut; the proxies cut them as the mesh does.
        try proxies["\(from)->\(to)"]?.apply(.partition(direction: oneWay ? .forward : .both))
        try proxies["\(to)->\(from)"]?.apply(.partition(direction: oneWay ? .backward : .both))
    }

    func bandwidth(_ from: String, _ to: String, bytesPerSecond: Int) throws {
        try require(.bandwidth)
        let a = try address(from), b = try address(to)
        try add(Self.pair(from, to), [(from, .shape(to: b, bytesPerSecond: bytesPerSecond)), (to, .shape(to: a, bytesPerSecond: bytesPerSecond))])
        // tc classifies by the destination on the wire; a connection through a hub proxy is
        // addressed to the hub there, so its proxy paces it, as the mesh does.
        try proxies["\(from)->\(to)"]?.apply(.bandwidth(bytesPerSecond: bytesPerSecond))
        try proxies["\(to)->\(from)"]?.apply(.bandwidth(bytesPerSecond: bytesPerSecond))
    }

    func packets(_ from: String, _ to: String, fault: PacketFault, percent: Int) throws {
        let a = try address(from), b = try address(to)
        switch fault {
        case .loss:
            try require(.loss)
            try add(Self.pair(from, to), [(from, .loss(to: b, percent: percent)), (to, .loss(to: a, percent: percent))])
        case .duplicate, .corrupt:
            let kind: PacketFaultKind = fault == .duplicate ? .duplicate : .corrupt
            try require(kind == .duplicate ? .duplicate : .corrupt)
            try add(Self.pair(from, to), [(from, .netem(to: b, kind: kind, percent: percent)), (to, .netem(to: a, kind: kind, percent: percent))])
        }
    }

    func reset(_ from: String, _ to: String) throws {
        let a = try address(from), b = try address(to)
        try fabric.resetConnections(from: from, to: b)
        try fabric.resetConnections(from: to, to: a)
        // Sockets a hub proxy carries have the hub as their peer; the proxy aborts those.
        try proxies["\(from)->\(to)"]?.apply(.reset)
        try proxies["\(to)->\(from)"]?.apply(.reset)
    }

    /// What the kernel needs for `step`, as one line naming what it lacks; nil when it can. Read
    /// before the cluster boots, so a scenario the kernel cannot carry out fails at once.
    static func refusal(_ step: Step, features: KernelFeatures) -> String? {
        switch step {
        case .partition(_, _, let mode, _): return features.missing(for: mode == .reject ? .reject : .partition)
        case .packets(_, let fault, _, _):
            switch fault {
            case .loss: return features.missing(for: .loss)
            case .duplicate: return features.missing(for: .duplicate)
            case .corrupt: return features.missing(for: .corrupt)
            }
        case .bandwidth: return features.missing(for: .bandwidth)
        case .delay: return features.missing(for: .delayRedirect)
        case .nemesis(let plan, _):
            if plan.faults.contains(.partition), let m = features.missing(for: .partition) { return m }
            return plan.faults.contains(.delay) ? features.missing(for: .delayRedirect) : nil
        default: return nil
        }
    }

    /// The links a delay acts on, as the proxy mesh has them: from each end to the other's
    /// service port, where the other end serves one (masters, coreapps, the gateway, the db).
    private func delayedLinks(_ from: String, _ to: String) -> [(from: String, to: String)] {
        let serves: Set<NodeRole> = [.master, .coreapp, .gateway, .db]
        let sources: Set<NodeRole> = [.webapp, .master, .coreapp]
        var out: [(String, String)] = []
        for (x, y) in [(from, to), (to, from)] {
            guard let rx = cluster.nodes[x]?.role, let ry = cluster.nodes[y]?.role, sources.contains(rx), serves.contains(ry) else { continue }
            out.append((x, y))
        }
        return out
    }

    /// Before the nodes start: every link the proxy mesh would carry goes through a pass-through
    /// proxy on the hub, so a later delay slows connections already open, handshakes done.
    func routeThroughProxies() async throws {
        try require(.delayRedirect)
        let names = cluster.nodes.keys.sorted()
        for x in names {
            for y in names where x != y {
                guard delayedLinks(x, y).contains(where: { $0.from == x && $0.to == y }), let target = cluster.serviceAddress(y) else { continue }
                let proxy = try await startProxy("\(x)->\(y)", target)
                routes.append((x, .redirect(to: target.host, port: target.port, via: HostAddressing.hub, viaPort: proxy.listenPort)))
            }
        }
        try apply()
        let why = fabric.features.kernelDelay ? "this runner drives netem for duplicate and corrupt only" : "the kernel has no sch_netem"
        notes.append("this scenario delays links and \(why): each of the \(routes.count) links goes through a pass-through proxy on the hub (nftables DNAT from boot), which adds the delay; partitions and loss stay kernel rules (matched on conntrack's original destination), and that proxy also cuts and paces what it carries")
    }

    private func startProxy(_ key: String, _ target: HostPort) async throws -> LinkProxy {
        if let p = proxies[key] { return p }
        let proxy = LinkProxy(name: key, upstreamHost: target.host, upstreamPort: target.port, listenHost: HostAddressing.hub,
                              seed: seed &+ UInt64(proxies.count + 1))
        try await proxy.start()
        proxies[key] = proxy
        return proxy
    }

    func delay(_ from: String, _ to: String, milliseconds: Int, jitterMilliseconds: Int) async throws {
        try require(.delayRedirect)
        let links = delayedLinks(from, to)
        guard !links.isEmpty else { throw RunnerError("delay \(from) <-> \(to): neither end serves the other (a link needs a master, coreapp, the gateway or the db at one end)") }
        let routed = Set(routes.map(\.host))
        var rules: [(host: String, rule: KernelRule)] = []
        var moved: [(String, HostPort)] = []
        for (x, y) in links {
            guard let target = cluster.serviceAddress(y) else { continue }
            let proxy = try await startProxy("\(x)->\(y)", target)
            try proxy.apply(.delay(milliseconds: milliseconds, jitterMilliseconds: jitterMilliseconds))
            if !routed.contains(x) {
                rules.append((x, .redirect(to: target.host, port: target.port, via: HostAddressing.hub, viaPort: proxy.listenPort)))
                moved.append((x, target))
            }
        }
        try add(Self.pair(from, to), rules)
        // A link not routed from boot: its open connections keep their direct path, so they are
        // reset to reconnect through the proxy (handshakes then pay the delay too).
        for (x, target) in moved { try fabric.resetConnections(from: x, to: target.host, port: target.port) }
        if !moved.isEmpty {
            let line = "delay \(from)<->\(to): not routed through the hub from boot, so its open connections were reset to move them onto the delay proxy"
            if !notes.contains(line) { notes.append(line) }
        }
    }

    func heal(_ from: String, _ to: String) throws {
        proxies["\(from)->\(to)"]?.heal()
        proxies["\(to)->\(from)"]?.heal()
        rulesByPair[Self.pair(from, to)] = nil
        try apply()
    }

    func healAll() throws {
        for p in proxies.values { p.heal() }
        rulesByPair.removeAll()
        try apply()
    }

    var activeFaults: [String] {
        var out: [String] = []
        for (pair, rules) in rulesByPair {
            for r in rules { out.append("\(r.host) (\(pair)): \(r.rule)") }
        }
        for (key, p) in proxies { if let f = p.activeFault { out.append("\(key): \(f) (proxy on the hub)") } }
        return out.sorted()
    }

    func stop() async {
        for p in proxies.values { await p.stop() }
    }
}
