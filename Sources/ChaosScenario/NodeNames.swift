import WACore

// The names themselves and their natural order are the product's (`ClusterNodeNames`); this
// file says which of them a topology defines.

/// Webapp names: `waweb` when there is one, `waweb1..N` otherwise.
public func webappNames(of topology: Topology) -> [String] {
    ClusterNodeNames.webapps(count: topology.webapps)
}

/// Master names: `master1..N`.
public func masterNames(of topology: Topology) -> [String] {
    ClusterNodeNames.masters(count: topology.masters)
}

/// Every defined coreapp: the boot ones, then the standby ones (`wacore1..N+S`).
public func coreappNames(of topology: Topology) -> [String] {
    ClusterNodeNames.coreapps(count: topology.coreapps + topology.standbyCoreapps)
}

/// Coreapps started at boot: `wacore1..N`.
public func bootCoreappNames(of topology: Topology) -> [String] {
    ClusterNodeNames.coreapps(count: topology.coreapps)
}

/// Coreapps defined but left stopped at boot, for a later `start` step.
public func standbyCoreappNames(of topology: Topology) -> [String] {
    Array(coreappNames(of: topology).dropFirst(topology.coreapps))
}

/// Every node a selector may name: webapps, masters, coreapps, `db`, `gateway`.
public func nodeNames(of topology: Topology) -> [String] {
    webappNames(of: topology) + masterNames(of: topology) + coreappNames(of: topology) + [ClusterNodeNames.database, ClusterNodeNames.gateway]
}

/// The nodes the runner starts at boot: every node but the standby coreapps.
public func bootNodeNames(of topology: Topology) -> [String] {
    let later = Set(standbyCoreappNames(of: topology))
    return nodeNames(of: topology).filter { !later.contains($0) }
}

/// The role of a node the topology defines, or nil for a name it does not define.
public func nodeRole(named name: String, in topology: Topology) -> NodeRole? {
    if webappNames(of: topology).contains(name) { return .webapp }
    if masterNames(of: topology).contains(name) { return .master }
    if coreappNames(of: topology).contains(name) { return .coreapp }
    if name == ClusterNodeNames.database { return .db }
    if name == ClusterNodeNames.gateway { return .gateway }
    return nil
}

/// A name without its trailing number: `wacore` for `wacore12`, for "did you mean" suggestions.
func nodeNameStem(_ name: String) -> Substring {
    name.dropLast(name.reversed().prefix { $0.isASCII && $0.isNumber }.count)
}
