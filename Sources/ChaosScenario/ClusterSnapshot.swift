import WACore

/// What the runner knows about one node at one moment.
public struct NodeState: Equatable, Sendable {
    /// The node's name, as derived from the topology.
    public var name: String
    /// Its role.
    public var role: NodeRole
    /// True for the master holding the master lease.
    public var isPrimaryMaster: Bool
    /// The shard a coreapp owns, if any.
    public var ownedShard: Int?
    /// True while the process exists (a paused process is still running).
    public var isRunning: Bool

    /// Creates a node state.
    public init(name: String, role: NodeRole, isPrimaryMaster: Bool = false, ownedShard: Int? = nil,
                isRunning: Bool = true) {
        self.name = name
        self.role = role
        self.isPrimaryMaster = isPrimaryMaster
        self.ownedShard = ownedShard
        self.isRunning = isRunning
    }
}

/// The cluster as the runner sees it when a step resolves its selectors.
public struct ClusterSnapshot: Equatable, Sendable {
    /// Every defined node, running or not.
    public var nodes: [NodeState]
    /// Node names bound by earlier steps' `as:` labels, keyed by label (without `$`).
    public var labels: [String: String]

    /// Creates a snapshot.
    public init(nodes: [NodeState], labels: [String: String] = [:]) {
        self.nodes = nodes
        self.labels = labels
    }
}
