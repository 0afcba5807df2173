import ChaosScenario
import Foundation
import WACore
import WATestKit

/// What the runner knows of the cluster at an instant, from node events and its own record of
/// which processes it started and stopped.
struct ClusterObserver {
    let cluster: LocalCluster

    /// Latest shard owned per running coreapp, from its `role_changed` events.
    func owners() -> [Int: String] {
        var out: [Int: String] = [:]
        for name in cluster.layout.coreappNames where cluster.process(name)?.isAlive == true {
            guard let e = cluster.events(name).last(where: { $0.event == "role_changed" }),
                  e.fields["role"] == "owner", let s = e.fields["shard"].flatMap(Int.init) else { continue }
            out[s] = name
        }
        return out
    }

    /// The running master whose latest lease event is an acquisition.
    func primaryMaster() -> String? {
        cluster.layout.masterNames.filter { cluster.process($0)?.isAlive == true }.first { name in
            cluster.events(name).last(where: { $0.event == "lease_acquired" || $0.event == "lease_lost" })?.event == "lease_acquired"
        }
    }

    func snapshot() -> ClusterSnapshot {
        let owners = owners()
        let primary = primaryMaster()
        var nodes: [NodeState] = []
        for (name, node) in cluster.nodes {
            let role: ChaosScenario.NodeRole = switch node.role {
            case .webapp: .webapp
            case .master: .master
            case .coreapp: .coreapp
            case .db: .db
            default: .gateway
            }
            nodes.append(NodeState(name: name, role: role, isPrimaryMaster: name == primary,
                                   ownedShard: owners.first { $0.value == name }?.key,
                                   isRunning: cluster.process(name)?.isAlive == true))
        }
        if cluster.nodes[LocalCluster.databaseNodeName] == nil {
            // An external server (--db-env): a link target, not a process of ours.
            nodes.append(NodeState(name: LocalCluster.databaseNodeName, role: .db, isRunning: true))
        }
        return ClusterSnapshot(nodes: nodes.sorted { $0.name < $1.name })
    }

    /// Primary-master intervals (real time) per master, for the split-brain check. An interval
    /// ends at the master's lease loss (never later than the validity it logged), at its
    /// death, or at `end`.
    func primaryIntervals(deaths: [String: [Double]], end: Double, scale: Double) -> [(master: String, from: Double, to: Double)] {
        var out: [(String, Double, Double)] = []
        for m in cluster.layout.masterNames {
            var start: Double?
            for e in cluster.events(m) where e.event == "lease_acquired" || e.event == "lease_lost" || e.event == "node_started" {
                if e.event == "lease_acquired" {
                    if start == nil { start = e.ts }
                } else if let s = start {
                    // A restart (node_started) also ends the previous life's interval.
                    let deathsAfter = deaths[m, default: []].filter { $0 >= s && $0 <= e.ts }
                    var stop = e.ts
                    if let d = deathsAfter.first { stop = min(stop, d) }
                    if e.event == "lease_lost", let v = e.fields["valid_until"].flatMap(Double.init) { stop = min(stop, v * scale) }
                    out.append((m, s, max(s, stop)))
                    start = nil
                }
            }
            if let s = start {
                let stop = deaths[m, default: []].first { $0 >= s } ?? end
                out.append((m, s, stop))
            }
        }
        return out
    }
}
