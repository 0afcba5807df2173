/// What is statically known at a point of the timeline, for checks that depend on earlier steps.
struct TimelineContext {
    /// The topology, or nil when it failed to parse (then node names go unchecked).
    let topology: Topology?
    /// The shard count in force, or nil when unknown (an unreadable `shards` or `set_shards`).
    var shards: Int?
    /// Whether a fault step came earlier, for `expect_failover` to measure from.
    var sawFault = false
    /// Labels bound by earlier steps' `as:`.
    var labels: Set<String> = []

    /// Why `shard` cannot be named at this point, or nil when it exists (or the count is unknown).
    func shardProblem(_ shard: Int) -> String? {
        guard let shards, shard >= shards else { return nil }
        let existing = shards == 1 ? "only shard 0" : "shards 0..\(shards - 1)"
        return "shard \(shard) does not exist at this step: the cluster has \(shards) shard"
            + (shards == 1 ? "" : "s") + " (\(existing))"
    }

    init(topology: Topology?, shards: Int?) {
        self.topology = topology
        self.shards = shards
    }
}

/// Where a selector is used, which decides the nodes it may name.
enum SelectorUse {
    /// The node of a process step (kill, stop, ...).
    case process(StepKind)
    /// The connecting side of a link.
    case linkFrom
    /// The accepting side of a link.
    case linkTo
}
