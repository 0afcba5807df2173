import Yams

/// Reads the `topology` mapping.
struct TopologyParser {
    let diagnostics: Diagnostics

    func parse(_ field: Field) -> Topology? {
        guard let fields = MappingFields(field, allowed: ["db", "webapps", "masters", "coreapps", "standby_coreapps", "builds", "build", "node_builds", "net"],
                                         diagnostics: diagnostics) else { return nil }
        let before = diagnostics.errors.count
        let db = fields.optional("db").flatMap { diagnostics.choice($0, among: Topology.engines, spelled: \.scenarioName) } ?? .sqlite
        let webapps = fields.optional("webapps").flatMap { diagnostics.integer($0, in: Topology.webappRange) } ?? 1
        let masters = fields.required("masters").flatMap { diagnostics.integer($0, in: Topology.masterRange) }
        let coreapps = fields.required("coreapps").flatMap { diagnostics.integer($0, in: Topology.coreappRange) }
        let standby = fields.optional("standby_coreapps")
            .flatMap { diagnostics.integer($0, in: Topology.standbyCoreappRange) } ?? 0
        // A half-read topology would make every selector look wrong; better to check none.
        guard diagnostics.errors.count == before, let masters, let coreapps else { return nil }
        var topology = Topology(db: db, webapps: webapps, masters: masters, coreapps: coreapps, standbyCoreapps: standby)
        topology.builds = fields.optional("builds").flatMap(builds) ?? [:]
        topology.net = fields.optional("net").flatMap { diagnostics.choice($0, of: NetworkMode.self) }
        let known = Set(topology.builds.keys).union([Topology.newBuild])
        topology.build = fields.optional("build").flatMap { buildName($0, known: known) }
        if let f = fields.optional("node_builds") {
            topology.nodeBuilds = nodeBuilds(f, known: known, nodes: Set(nodeNames(of: topology))) ?? [:]
        }
        guard diagnostics.errors.count == before else { return nil }
        return topology
    }

    /// `builds: {old: .build-old/debug}`: names (`[a-z0-9-]+`) of folders holding a `wacluster`.
    private func builds(_ field: Field) -> [String: String]? {
        guard case .mapping(let mapping) = field.node else {
            diagnostics.report(field.node, field.path, "expected a mapping of build names to folders holding wacluster, e.g. {old: .build-old/debug}, got \(describe(field.node))")
            return nil
        }
        var out: [String: String] = [:]
        for (k, v) in mapping {
            let name = k.scalar?.string ?? ""
            let item = Field(node: v, path: field.child(name), key: k)
            guard !name.isEmpty, name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) else {
                diagnostics.report(k, field.path, "a build name is lowercase letters, digits and \"-\", got \(describe(k))"); continue
            }
            guard let dir = diagnostics.string(item), !dir.isEmpty else { continue }
            out[name] = dir
        }
        return out
    }

    private func buildName(_ field: Field, known: Set<String>) -> String? {
        guard let name = diagnostics.string(field) else { return nil }
        guard known.contains(name) else {
            diagnostics.report(field.node, field.path, "no build named \"\(name)\"; builds: \(known.sorted().joined(separator: ", ")) (name it under builds)")
            return nil
        }
        return name
    }

    private func nodeBuilds(_ field: Field, known: Set<String>, nodes: Set<String>) -> [String: String]? {
        guard case .mapping(let mapping) = field.node else {
            diagnostics.report(field.node, field.path, "expected a mapping of node names to build names, e.g. {wacore3: new}, got \(describe(field.node))")
            return nil
        }
        var out: [String: String] = [:]
        for (k, v) in mapping {
            let node = k.scalar?.string ?? ""
            guard nodes.contains(node) else {
                diagnostics.report(k, field.path, "no node named \"\(node)\" in this topology; nodes: \(nodes.sorted().joined(separator: ", "))"); continue
            }
            if let b = buildName(Field(node: v, path: field.child(node), key: k), known: known) { out[node] = b }
        }
        return out
    }
}
