import WACore

/// The name of the database node: `wacluster db` for SQLite, the PostgreSQL server.
public let databaseNodeName = "db"
/// The name of the simulated WhatsApp server.
public let gatewayNodeName = "gateway"

/// Webapp names: `waweb` when there is one, `waweb1..N` otherwise.
public func webappNames(of topology: Topology) -> [String] {
    topology.webapps == 1 ? ["waweb"] : numbered("waweb", count: topology.webapps)
}

/// Master names: `master1..N`.
public func masterNames(of topology: Topology) -> [String] {
    numbered("master", count: topology.masters)
}

/// Every defined coreapp: the boot ones, then the standby ones (`wacore1..N+S`).
public func coreappNames(of topology: Topology) -> [String] {
    numbered("wacore", count: topology.coreapps + topology.standbyCoreapps)
}

/// Coreapps started at boot: `wacore1..N`.
public func bootCoreappNames(of topology: Topology) -> [String] {
    numbered("wacore", count: topology.coreapps)
}

/// Coreapps defined but left stopped at boot, for a later `start` step.
public func standbyCoreappNames(of topology: Topology) -> [String] {
    Array(coreappNames(of: topology).dropFirst(topology.coreapps))
}

/// Every node a selector may name: webapps, masters, coreapps, `db`, `gateway`.
public func nodeNames(of topology: Topology) -> [String] {
    webappNames(of: topology) + masterNames(of: topology) + coreappNames(of: topology) + [databaseNodeName, gatewayNodeName]
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
    if name == databaseNodeName { return .db }
    if name == gatewayNodeName { return .gateway }
    return nil
}

/// Natural order of node names, so `wacore2` sorts before `wacore10`: "lowest-named" means this.
public func nodeNameSortsBefore(_ lhs: String, _ rhs: String) -> Bool {
    let (lhsStem, lhsNumber) = splitTrailingNumber(lhs)
    let (rhsStem, rhsNumber) = splitTrailingNumber(rhs)
    if lhsStem != rhsStem { return lhsStem < rhsStem }
    if lhsNumber != rhsNumber { return (lhsNumber ?? -1) < (rhsNumber ?? -1) }
    return lhs < rhs
}

/// A name without its trailing number: `wacore` for `wacore12`.
func nodeNameStem(_ name: String) -> Substring {
    splitTrailingNumber(name).stem
}

private func numbered(_ stem: String, count: Int) -> [String] {
    count < 1 ? [] : (1...count).map { "\(stem)\($0)" }
}

private func splitTrailingNumber(_ name: String) -> (stem: Substring, number: Int?) {
    let digits = name.reversed().prefix { $0.isASCII && $0.isNumber }
    let stem = name.dropLast(digits.count)
    // Leading zeros or absurd lengths fall back to plain string order via a nil number.
    return (stem, digits.count <= 18 ? Int(String(digits.reversed())) : nil)
}
