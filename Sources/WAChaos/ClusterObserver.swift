import ChaosCheckers
import ChaosScenario
import Foundation
import WACore
import WATestKit

/// What the runner knows of the cluster at an instant: who is primary and who owns each shard
/// from terms and epochs in the node events (`ClusterView`, the checkers' own model), and
/// which processes run from its own record.
struct ClusterObserver {
    let cluster: LocalCluster
    let deaths: [String: [Double]]
    let scale: Double

    func view() -> ClusterView { ClusterView(events: cluster.allEvents(), deaths: deaths, scale: scale) }

    /// Each shard's owner now (the highest epoch still held by a live process) and the master
    /// holding the highest open term if its process lives: one read of the logs for both.
    func state() -> (owners: [Int: String], primary: String?) {
        let t = Date().timeIntervalSince1970
        let v = view()
        let owners = v.owners(at: t).filter { cluster.process($0.value)?.isAlive == true }
        let primary = v.primary(at: t).flatMap { cluster.process($0)?.isAlive == true ? $0 : nil }
        return (owners, primary)
    }

    func owners() -> [Int: String] { state().owners }
    func primaryMaster() -> String? { state().primary }

    func snapshot() -> ClusterSnapshot {
        let (owners, primary) = state()
        var nodes: [NodeState] = []
        for (name, node) in cluster.nodes {
            nodes.append(NodeState(name: name, role: node.role, isPrimaryMaster: name == primary,
                                   ownedShard: owners.first { $0.value == name }?.key,
                                   isRunning: cluster.process(name)?.isAlive == true))
        }
        if cluster.nodes[ClusterNodeNames.database] == nil {
            // An external server (--db-env): a link target, not a process of ours.
            nodes.append(NodeState(name: ClusterNodeNames.database, role: .db, isRunning: true))
        }
        return ClusterSnapshot(nodes: nodes.sorted { $0.name < $1.name })
    }
}
