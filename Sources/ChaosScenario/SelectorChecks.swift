/// Static checks of a selector against the topology and the timeline so far.
extension TimelineParser {
    /// Reads and checks a selector field; nil (reported) when it is wrong.
    func selector(_ field: Field, use: SelectorUse) -> NodeSelector? {
        guard let text = diagnostics.string(field) else { return nil }
        let selector: NodeSelector
        do {
            selector = try NodeSelector.parse(text)
        } catch {
            diagnostics.report(field.node, field.path, String(describing: error))
            return nil
        }
        guard let problem = problem(with: selector, use: use) else { return selector }
        diagnostics.report(field.node, field.path, problem)
        return nil
    }

    private func problem(with selector: NodeSelector, use: SelectorUse) -> String? {
        var isLinkFrom = false
        if case .linkFrom = use { isLinkFrom = true }
        if selector == .allNodes, !isLinkFrom {
            return "all names every webapp, master and coreapp; only a link's from side takes it (partition: {from: all, to: db})"
        }
        if case .process(.start) = use, selector.isRoleBased {
            return "start takes a node name or $label (a stopped node plays no role), got \(selector)"
        }
        switch selector {
        case .name(let name):
            return problem(withName: name, use: use)
        case .label(let label):
            return context.labels.contains(label) ? nil
                : "$\(label) is not bound by an earlier step (bind it with {node: ..., as: \(label)})"
                    + didYouMean(label, among: context.labels.sorted())
        case .owner(let shard):
            return context.shardProblem(shard)
        case .secondaryMaster:
            return context.topology?.masters == 1
                ? "the topology has one master, so there is never a secondary master" : nil
        case .random(let inner):
            return problem(with: inner, use: use)
        case .primaryMaster, .standby, .anyOfRole, .allNodes:
            return nil
        }
    }

    private func problem(withName name: String, use: SelectorUse) -> String? {
        guard let topology = context.topology else { return nil }
        guard let role = nodeRole(named: name, in: topology) else {
            return "unknown node \"\(name)\"" + unknownNodeHint(name, topology)
        }
        if case .linkFrom = use, role == .db || role == .gateway {
            return "\(name) only accepts connections; a link goes from a webapp, master or coreapp to it"
        }
        return nil
    }

    /// For `wacore5` with three coreapps, the defined range; for a typo, the likely word; else every name.
    private func unknownNodeHint(_ name: String, _ topology: Topology) -> String {
        let defined = nodeNames(of: topology)
        let sameStem = defined.filter { nodeNameStem($0) == nodeNameStem(name) }
        if let first = sameStem.first, let last = sameStem.last {
            return ": the topology defines " + (first == last ? first : "\(first)..\(last)")
        }
        if let intended = closestMatch(to: name, among: defined + NodeSelector.roleKeywords.keys.sorted()) {
            return "; did you mean \"\(intended)\"?"
        }
        return " (the topology defines \(defined.joined(separator: ", ")))"
    }
}
