import WACore

/// How the database answered a coreapp's request for its shard lease.
public enum ShardLeaseAnswer: Equatable, Sendable, Codable {
    /// Held for `validFor` logical seconds, counted by the database from when it granted it.
    case granted(validFor: Double)
    /// Assigned to this node, but the previous owner's lease may still run for `remaining` seconds.
    case fenced(remaining: Double)
    /// This node does not own the shard in this epoch (any more).
    case refused
}

/// The shard map's rules, shared by every store backend: a backend reads the rows inside one
/// transaction, asks these functions, and writes what they return. `now` is the database's
/// clock, so nodes whose clocks disagree still never overlap.
public enum ShardMapRules {
    /// Whether `shard` may be given to `node`, and the fence its new owner must wait out: the
    /// previous owner's lease end (or an earlier fence still running). Nil when the shard does
    /// not exist or the node already owns another shard (a coreapp owns at most one).
    public static func assignmentFence(_ shard: Int, to node: String, rows: [ShardAssignment], now: LogicalInstant) -> LogicalInstant? {
        guard let old = rows.first(where: { $0.shard == shard }) else { return nil }
        if rows.contains(where: { $0.owner == node && $0.shard != shard }) { return nil }
        return max(old.fenceUntil, old.leaseUntil ?? old.fenceUntil, now)
    }

    /// The map after a shard-count change: `count` unowned shards, each fenced until every
    /// current lease and fence has ended, because a shard number under the new count may be the
    /// gateway shard an old owner still holds. `epochs` are fresh epoch numbers, one per shard.
    public static func resized(to count: Int, rows: [ShardAssignment], now: LogicalInstant, epochs: [Int]) -> [ShardAssignment] {
        precondition(epochs.count == count, "one fresh epoch per shard")
        let fence = rows.reduce(now) { m, r in max(m, r.leaseUntil ?? r.fenceUntil, r.fenceUntil) }
        return (0..<count).map { ShardAssignment(shard: $0, owner: nil, epoch: epochs[$0], fenceUntil: fence, leaseUntil: nil) }
    }

    /// A coreapp asks for the lease of the shard it was assigned.
    public static func acquireLease(_ row: ShardAssignment, epoch: Int, node: String, now: LogicalInstant,
                                    ttl: Double) -> (row: ShardAssignment?, answer: ShardLeaseAnswer) {
        guard row.owner == node, row.epoch == epoch else { return (nil, .refused) }
        guard row.fenceUntil <= now else { return (nil, .fenced(remaining: row.fenceUntil - now)) }
        var next = row
        next.leaseUntil = now + ttl
        return (next, .granted(validFor: ttl))
    }

    /// Renewal: only by the owner of this epoch, and only while its lease has not ended. A lapsed
    /// lease is gone for good: the master may already have moved the shard.
    public static func renewLease(_ row: ShardAssignment, epoch: Int, node: String, now: LogicalInstant, ttl: Double) -> ShardAssignment? {
        guard row.owner == node, row.epoch == epoch, let until = row.leaseUntil, until > now else { return nil }
        var next = row
        next.leaseUntil = now + ttl
        return next
    }

    /// A graceful stop: the owner, already disconnected, frees the shard so it can move at once.
    public static func release(_ row: ShardAssignment, epoch: Int, node: String, now: LogicalInstant) -> ShardAssignment? {
        guard row.owner == node, row.epoch == epoch else { return nil }
        return ShardAssignment(shard: row.shard, owner: nil, epoch: row.epoch, fenceUntil: now, leaseUntil: nil)
    }
}

/// The master lease as the database sees it at one instant: the row, and how long it still runs
/// by the database's clock (zero or less: lapsed).
public struct LeaseStatus: Equatable, Sendable, Codable {
    public var lease: LeaseRecord
    public var remaining: Double
    public init(lease: LeaseRecord, remaining: Double) { self.lease = lease; self.remaining = remaining }
    /// The holder while the lease runs, else nil.
    public var holder: String? { remaining > 0 ? lease.holder : nil }
}
