import WACore

/// One row of the shard map.
public struct ShardAssignment: Equatable, Sendable, Codable {
    public var shard: Int
    public var owner: String?
    public var epoch: Int
    /// A new owner may not connect before this instant (the previous owner's lease end).
    public var fenceUntil: LogicalInstant
    /// The owner's shard lease; nil until the owner acquires it.
    public var leaseUntil: LogicalInstant?
    public init(shard: Int, owner: String?, epoch: Int, fenceUntil: LogicalInstant, leaseUntil: LogicalInstant?) {
        self.shard = shard; self.owner = owner; self.epoch = epoch; self.fenceUntil = fenceUntil; self.leaseUntil = leaseUntil
    }
}

/// A coreapp as the planner sees it.
public struct CoreappCandidate: Equatable, Sendable {
    public var nodeID: String
    public var hostname: String
    public var unhealthy: UnhealthyReason?
    public var promotable: Bool
    /// Seen but not heard from yet (just started): worth a short wait if it would be chosen.
    public var pending: Bool
    public init(nodeID: String, hostname: String, unhealthy: UnhealthyReason?, promotable: Bool, pending: Bool = false) {
        self.nodeID = nodeID; self.hostname = hostname; self.unhealthy = unhealthy; self.promotable = promotable; self.pending = pending
    }
}

/// Decides which shards need a new owner and whom to promote. Deterministic: the promotable
/// standby with the lowest hostname (then node id) wins, so golden outputs are exact.
public enum ShardPlanner {
    public enum Decision: Equatable, Sendable {
        case promote(shard: Int, node: String, replacing: String?, reason: String)
        case noCandidate(shard: Int, reason: String)
        /// A coreapp that would win is starting: decide on a later pass, so the choice does
        /// not depend on which process answered its first heartbeat first.
        case deferred(shard: Int, waitingFor: String)
    }

    /// Natural order of hostnames: wacore2 before wacore10.
    public static func precedes(_ a: CoreappCandidate, _ b: CoreappCandidate) -> Bool {
        ClusterNodeNames.naturallyPrecedes(a.hostname, b.hostname) || (a.hostname == b.hostname && a.nodeID < b.nodeID)
    }

    public static func plan(shardCount: Int, map: [ShardAssignment], coreapps: [CoreappCandidate]) -> [Decision] {
        let byID = Dictionary(coreapps.map { ($0.nodeID, $0) }, uniquingKeysWith: { a, _ in a })
        let rows = Dictionary(map.map { ($0.shard, $0) }, uniquingKeysWith: { a, _ in a })
        var busy = Set(map.compactMap { row -> String? in
            guard let o = row.owner, row.shard < shardCount, byID[o]?.unhealthy == nil, byID[o] != nil else { return nil }
            return o
        })
        var standbys = coreapps.filter { $0.promotable && $0.unhealthy == nil && !busy.contains($0.nodeID) }
            .sorted(by: precedes)
        let pending = coreapps.filter { $0.pending && !$0.promotable && $0.unhealthy == nil && !busy.contains($0.nodeID) }
            .sorted(by: precedes)
        var decisions: [Decision] = []
        for shard in 0..<shardCount {
            let row = rows[shard]
            let reason: String
            if let owner = row?.owner {
                guard let node = byID[owner] else {
                    reason = "owner \(owner) is no longer registered"
                    decisions.append(pick(shard, &standbys, &busy, pending, replacing: owner, reason))
                    continue
                }
                guard let why = node.unhealthy else { continue }
                reason = "owner \(node.hostname) is unhealthy: \(why)"
                decisions.append(pick(shard, &standbys, &busy, pending, replacing: owner, reason))
            } else {
                reason = "shard has no owner"
                decisions.append(pick(shard, &standbys, &busy, pending, replacing: nil, reason))
            }
        }
        return decisions
    }

    private static func pick(_ shard: Int, _ standbys: inout [CoreappCandidate], _ busy: inout Set<String>,
                             _ pending: [CoreappCandidate], replacing: String?, _ reason: String) -> Decision {
        if let early = pending.first(where: { !busy.contains($0.nodeID) }), standbys.first.map({ precedes(early, $0) }) ?? true {
            return .deferred(shard: shard, waitingFor: early.hostname)
        }
        guard !standbys.isEmpty else {
            return .noCandidate(shard: shard, reason: "\(reason); no healthy standby coreapp to promote")
        }
        let chosen = standbys.removeFirst()
        busy.insert(chosen.nodeID)
        return .promote(shard: shard, node: chosen.nodeID, replacing: replacing, reason: reason)
    }
}
