import WACore

/// The order an upgrade moves nodes in, from the cluster as the runner sees it (SPEC §13). A
/// pure function: the same cluster and seed give the same plan, which is what makes a random
/// upgrade reproducible.
public enum UpgradeOrder {
    /// Rolling: webapps, secondary masters, the primary master, standby coreapps, then the
    /// owners by shard. All at once: the same nodes (they stop and start together). Random:
    /// the rolling moves shuffled by `seed`.
    public static func plan(_ strategy: UpgradeStrategy, nodes: [NodeState], seed: UInt64) -> [String] {
        let running = nodes.filter { $0.isRunning && $0.role != .db && $0.role != .gateway }
        func sorted(_ xs: [NodeState]) -> [String] { xs.map(\.name).sorted(by: ClusterNodeNames.naturallyPrecedes) }
        let rolling = sorted(running.filter { $0.role == .webapp })
            + sorted(running.filter { $0.role == .master && !$0.isPrimaryMaster })
            + sorted(running.filter { $0.role == .master && $0.isPrimaryMaster })
            + sorted(running.filter { $0.role == .coreapp && $0.ownedShard == nil })
            + running.filter { $0.role == .coreapp && $0.ownedShard != nil }.sorted { $0.ownedShard! < $1.ownedShard! }.map(\.name)
        guard strategy == .random else { return rolling }
        var rng = SplitMix64(seed: seed)
        var out = rolling
        // Fisher–Yates with the scenario's generator.
        for i in stride(from: out.count - 1, to: 0, by: -1) { out.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return out
    }
}
