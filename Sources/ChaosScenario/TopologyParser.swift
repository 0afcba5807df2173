import Yams

/// Reads the `topology` mapping.
struct TopologyParser {
    let diagnostics: Diagnostics

    func parse(_ field: Field) -> Topology? {
        guard let fields = MappingFields(field, allowed: ["db", "webapps", "masters", "coreapps", "standby_coreapps"],
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
        return Topology(db: db, webapps: webapps, masters: masters, coreapps: coreapps, standbyCoreapps: standby)
    }
}
