import Foundation
import LinkProxy
import WACore
import WATestKit

/// One proxy per directed link between cluster nodes, and from every node to the db and the gateway.
/// Nodes find the proxies through `WA_PEER_OVERRIDES` (a JSON file per node mapping a peer's
/// `host:port` to its proxy), so the product's own code path stays plain `host:port`.
public final class LinkMesh: Sendable {
    public struct Link: Hashable, Sendable, CustomStringConvertible {
        public var from: String
        public var to: String
        public var description: String { "\(from)->\(to)" }
    }
    public let proxies: [Link: LinkProxy]
    let cluster: LocalCluster

    /// Where each link's upstream is: what the `from` node would dial without the proxy.
    let targets: [String: HostPort]

    public init(cluster: LocalCluster, seed: UInt64) {
        self.cluster = cluster
        var targets: [String: HostPort] = [:]
        for node in cluster.nodes.values where [.master, .coreapp, .gateway, .db].contains(node.role) {
            targets[node.name] = HostPort(host: "127.0.0.1", port: node.servicePort)
        }
        // An external database server is a link target too, though the runner owns no process of it.
        if targets[ClusterNodeNames.database] == nil, let address = cluster.databaseConfig.address {
            targets[ClusterNodeNames.database] = address
        }
        self.targets = targets
        let sources = cluster.nodes.values.filter { $0.role != .gateway && $0.role != .db }.map(\.name).sorted()
        var n: UInt64 = 0
        var proxies: [Link: LinkProxy] = [:]
        for from in sources {
            for to in targets.keys.sorted() where to != from {
                let target = targets[to]!
                n += 1
                proxies[Link(from: from, to: to)] = LinkProxy(name: "\(from)->\(to)", upstreamHost: target.host,
                                                              upstreamPort: target.port, seed: seed &+ n)
            }
        }
        self.proxies = proxies
    }

    /// Starts every proxy and points each node's overrides file at its outgoing proxies.
    public func start() async throws {
        for p in proxies.values { try await p.start() }
        var perNode: [String: [String: String]] = [:]
        for (link, proxy) in proxies {
            perNode[link.from, default: [:]][targets[link.to]!.description] = "127.0.0.1:\(proxy.listenPort)"
        }
        for (node, map) in perNode {
            let path = "\(cluster.runDirectory)/\(node)/peers.json"
            let data = JSONCodec.prettyData(try JSONCodec.encode(map))
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
            cluster.setEnvironment(node, "WA_PEER_OVERRIDES", path)
        }
    }

    public func stop() async { for p in proxies.values { await p.stop() } }

    func proxy(_ from: String, _ to: String) throws -> LinkProxy {
        guard let p = proxies[Link(from: from, to: to)] else {
            throw RunnerError("there is no link \(from) -> \(to) (links go from webapps, masters and coreapps to masters, coreapps, the db and the gateway)")
        }
        return p
    }

    /// Cuts the pair: both directions, or only traffic from `from` to `to`.
    public func partition(_ from: String, _ to: String, oneWay: Bool) throws {
        if oneWay {
            try proxy(from, to).apply(.partition(direction: .forward))
            if let back = proxies[Link(from: to, to: from)] { try back.apply(.partition(direction: .backward)) }
        } else {
            try proxy(from, to).apply(.partition(direction: .both))
            if let back = proxies[Link(from: to, to: from)] { try back.apply(.partition(direction: .both)) }
        }
    }

    /// Applies a fault to both directions of the pair (each proxy carries both byte directions).
    public func apply(_ fault: LinkFault, _ from: String, _ to: String) throws {
        try proxy(from, to).apply(fault)
        if let back = proxies[Link(from: to, to: from)] { try back.apply(fault) }
    }

    public func heal(_ from: String, _ to: String) {
        proxies[Link(from: from, to: to)]?.heal()
        proxies[Link(from: to, to: from)]?.heal()
    }

    public func healAll() { for p in proxies.values { p.heal() } }

    public var activeFaults: [String] {
        proxies.compactMap { link, p in p.activeFault.map { "\(link): \($0)" } }.sorted()
    }
}

public struct RunnerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
