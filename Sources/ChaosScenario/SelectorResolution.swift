import WACore
/// Why a selector matched no node in a snapshot.
public struct SelectorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The selector that was being resolved.
    public var selector: NodeSelector
    /// Why nothing matched.
    public var message: String

    /// Creates an error.
    public init(selector: NodeSelector, message: String) {
        self.selector = selector
        self.message = message
    }

    /// `selector: message`, e.g. `owner(shard: 1): no coreapp owns shard 1 right now`.
    public var description: String { "\(selector): \(message)" }
}

extension NodeSelector {
    /// The node this selector names right now. Names and labels match any defined node; roles match
    /// only running nodes, lowest name first; `random(...)` draws exactly once from `rng`.
    public func resolve(in snapshot: ClusterSnapshot, rng: inout SplitMix64) -> Result<String, SelectorError> {
        if case .allNodes = self {
            return .failure(SelectorError(selector: self, message: "names every webapp, master and coreapp; only a link's from side takes it"))
        }
        switch matches(in: snapshot) {
        case .failure(let error):
            return .failure(error)
        case .success(let names):
            if case .random = self {
                return .success(names[rng.nextIndex(below: names.count)])
            }
            return .success(names[0])
        }
    }

    /// Every node this selector could name right now, in natural name order; never empty on success.
    public func matches(in snapshot: ClusterSnapshot) -> Result<[String], SelectorError> {
        let found = matchingNodes(in: snapshot)
        if let problem = found.problem {
            return .failure(SelectorError(selector: self, message: problem))
        }
        return .success(found.names.sorted(by: ClusterNodeNames.naturallyPrecedes))
    }

    /// Matching names, or why there are none (as a message without the selector prefix).
    private func matchingNodes(in snapshot: ClusterSnapshot) -> (names: [String], problem: String?) {
        let running = snapshot.nodes.filter(\.isRunning)
        func result(_ nodes: [NodeState], else problem: String) -> (names: [String], problem: String?) {
            nodes.isEmpty ? ([], problem) : (nodes.map(\.name), nil)
        }
        switch self {
        case .name(let name):
            return result(snapshot.nodes.filter { $0.name == name }, else: "no node named \(name) in this cluster")
        case .label(let label):
            guard let name = snapshot.labels[label] else {
                return ([], "no earlier step bound this label")
            }
            return result(snapshot.nodes.filter { $0.name == name },
                          else: "bound to \(name), which is not in this cluster")
        case .primaryMaster:
            return result(running.filter { $0.role == .master && $0.isPrimaryMaster },
                          else: "no running master is primary right now")
        case .secondaryMaster:
            return result(running.filter { $0.role == .master && !$0.isPrimaryMaster },
                          else: "no running secondary master right now")
        case .owner(let shard):
            return result(running.filter { $0.role == .coreapp && $0.ownedShard == shard },
                          else: "no coreapp owns shard \(shard) right now")
        case .standby:
            return result(running.filter { $0.role == .coreapp && $0.ownedShard == nil },
                          else: "no running coreapp is a standby (owning no shard) right now")
        case .anyOfRole(let role):
            return result(running.filter { $0.role == role }, else: "no running \(role.rawValue) right now")
        case .random(let inner):
            return inner.matchingNodes(in: snapshot)
        case .allNodes:
            // Defined nodes, running or not: a stopped node's links stay cut when it starts.
            return result(snapshot.nodes.filter { [.webapp, .master, .coreapp].contains($0.role) },
                          else: "the cluster has no webapp, master or coreapp")
        }
    }
}
