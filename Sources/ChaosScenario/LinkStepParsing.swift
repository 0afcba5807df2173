/// `partition`, `delay`, `bandwidth`, `reset`, `heal`: faults on the link from one node to another.
extension TimelineParser {
    func partition(_ value: Field, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["from", "to", "direction", "mode"], diagnostics: diagnostics) else {
            return nil
        }
        let link = self.link(fields)
        let direction = fields.optional("direction").map { diagnostics.choice($0, of: PartitionDirection.self) }
            ?? .both
        let mode = fields.optional("mode").map { diagnostics.choice($0, of: PartitionMode.self) } ?? .drop
        guard let link, let direction, let mode else { return nil }
        return .partition(link, direction: direction, mode: mode, line: line)
    }

    /// `loss: {from, to, percent}`, `duplicate: …`, `corrupt: …`: a random share of the link's packets, both ways.
    func packets(_ value: Field, fault: PacketFault, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["from", "to", "percent"], diagnostics: diagnostics) else { return nil }
        let link = self.link(fields)
        let percent = fields.required("percent").flatMap { diagnostics.integer($0, in: 1...100) }
        guard let link, let percent else { return nil }
        return .packets(link, fault: fault, percent: percent, line: line)
    }

    func delay(_ value: Field, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["from", "to", "ms", "jitter_ms"], diagnostics: diagnostics) else {
            return nil
        }
        let link = self.link(fields)
        let ms = fields.required("ms").flatMap { diagnostics.integer($0, in: 0...Int.max) }
        let jitter = fields.optional("jitter_ms").map { diagnostics.integer($0, in: 0...Int.max) } ?? 0
        guard let link, let ms, let jitter else { return nil }
        return .delay(link, ms: ms, jitterMs: jitter, line: line)
    }

    func bandwidth(_ value: Field, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["from", "to", "bytes_per_second"],
                                         diagnostics: diagnostics) else { return nil }
        let link = self.link(fields)
        let rate = fields.required("bytes_per_second").flatMap { diagnostics.integer($0, in: 1...Int.max) }
        guard let link, let rate else { return nil }
        return .bandwidth(link, bytesPerSecond: rate, line: line)
    }

    func reset(_ value: Field, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["from", "to"], diagnostics: diagnostics),
              let link = link(fields) else { return nil }
        return .reset(link, line: line)
    }

    /// `heal: all`, or `heal: {from: X, to: Y}` for one link.
    func heal(_ value: Field, line: Int) -> Step? {
        if case .scalar(let scalar) = value.node {
            guard scalar.string == "all" else {
                diagnostics.report(value.node, value.path, "expected \"all\" or {from: X, to: Y}, got \(describe(value.node))")
                return nil
            }
            return .heal(.all, line: line)
        }
        guard let fields = MappingFields(value, allowed: ["from", "to"], diagnostics: diagnostics,
                                         expecting: "\"all\" or {from: X, to: Y}"),
              let link = link(fields) else { return nil }
        return .heal(.link(link), line: line)
    }

    /// Reads `from` and `to` (both required) and checks they are two different nodes.
    private func link(_ fields: MappingFields) -> LinkSelector? {
        let fromField = fields.required("from")
        let from = fromField.flatMap { selector($0, use: .linkFrom) }
        let to = fields.required("to").flatMap { selector($0, use: .linkTo) }
        guard let from, let to else { return nil }
        if case .name = from, from == to, let fromField {
            diagnostics.report(fromField.node, fields.field.path, "from and to are the same node (\(from))")
            return nil
        }
        return LinkSelector(from: from, to: to)
    }
}
