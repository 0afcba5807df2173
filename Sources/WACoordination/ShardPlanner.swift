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
    public init(nodeID: String, hostname: String, unhealthy: UnhealthyReason?, promotable: Bool) {
        self.nodeID = nodeID; self.hostname = hostname; self.unhealthy = unhealthy; self.promotable = promotable
    }
}

/// Decides which shards need a new owner and whom to promote. Deterministic: the promotable
/// standby with the lowest hostname (then node id) wins, so golden outputs are exact.
public enum ShardPlanner {
    public enum Decision: Equatable, Sendable {
        case promote(shard: Int, node: String, replacing: String?, reason: String)
        case noCandidate(shard: Int, reason: String)
    }

    public static func plan(shardCount: Int, map: [ShardAssignment], coreapps: [CoreappCandidate]) -> [Decision] {
        let byID = Dictionary(coreapps.map { ($0.nodeID, $0) }, uniquingKeysWith: { a, _ in a })
        let rows = Dictionary(map.map { ($0.shard, $0) }, uniquingKeysWith: { a, _ in a })
        var busy = Set(map.compactMap { row -> String? in
            guard let o = row.owner, row.shard < shardCount, byID[o]?.unhealthy == nil, byID[o] != nil else { return nil }
            return o
        })
        var standbys = coreapps.filter { $0.promotable && $0.unhealthy == nil && !busy.contains($0.nodeID) }
            .sorted { ($0.hostname, $0.nodeID) < ($1.hostname, $1.nodeID) }
        var decisions: [Decision] = []
        for shard in 0..<shardCount {
            let row = rows[shard]
            let reason: String
            if let owner = row?.owner {
                guard let node = byID[owner] else {
                    reason = "owner \(owner) is no longer registered"
                    decisions.append(pick(shard, &standbys, &busy, replacing: owner, reason))
                    continue
                }
                guard let why = node.unhealthy else { continue }
                reason = "owner \(node.hostname) is unhealthy: \(why)"
                decisions.append(pick(shard, &standbys, &busy, replacing: owner, reason))
            } else {
                reason = "shard has no owner"
                decisions.append(pick(shard, &standbys, &busy, replacing: nil, reason))
            }
        }
        return decisions
    }

    private static func pick(_ shard: Int, _ standbys: inout [CoreappCandidate], _ busy: inout Set<String>,
                             replacing: String?, _ reason: String) -> Decision {
        guard !standbys.isEmpty else {
            return .noCandidate(shard: shard, reason: "\(reason); no healthy standby coreapp to promote")
        }
        let chosen = standbys.removeFirst()
        busy.insert(chosen.nodeID)
        return .promote(shard: shard, node: chosen.nodeID, replacing: replacing, reason: reason)
    }
}
