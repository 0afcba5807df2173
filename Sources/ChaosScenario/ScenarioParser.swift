import Yams

/// Turns a composed YAML tree into a `Scenario`, reporting every problem to `diagnostics`.
struct ScenarioParser {
    let diagnostics: Diagnostics

    static let topLevelKeys = [
        "name", "description", "time_scale", "seed", "topology", "settings", "register", "shards", "workload", "steps",
    ]

    /// The scenario, or nil when anything was reported.
    func parse(_ root: Node) -> Scenario? {
        let rootField = Field(node: root, path: "")
        guard let fields = MappingFields(rootField, allowed: Self.topLevelKeys, diagnostics: diagnostics,
                                         expecting: "a mapping with name, topology and steps") else {
            return nil
        }
        let name = fields.required("name").flatMap(scenarioName)
        let description = fields.optional("description").flatMap(diagnostics.string) ?? ""
        let timeScale = fields.optional("time_scale").flatMap(timeScale)
        let seed = fields.optional("seed").flatMap { diagnostics.integer($0, in: 0...Int.max) }.map(UInt64.init)
        let topology = fields.required("topology").flatMap { TopologyParser(diagnostics: diagnostics).parse($0) }
        let settings = fields.optional("settings").map { SettingsParser(diagnostics: diagnostics).parse($0) }
            ?? SettingsOverrides()
        let register = fields.optional("register").flatMap(diagnostics.boolean) ?? true
        let shardsField = fields.optional("shards")
        let shards = shardsField.map { shardCountValue($0, diagnostics: diagnostics) } ?? 1
        let workload = fields.optional("workload").flatMap { parseWorkload($0, diagnostics: diagnostics) }
        if workload != nil, !register, let w = fields.optional("workload") {
            diagnostics.report(w.key ?? w.node, w.path, "a workload needs a registered account; remove it or set register: true")
        }

        var timeline = TimelineParser(diagnostics: diagnostics,
                                      context: TimelineContext(topology: topology, shards: shards))
        let steps = fields.required("steps").map { timeline.parseSteps($0) } ?? []

        guard diagnostics.errors.isEmpty, let name, let topology, let settings, let shards else { return nil }
        return Scenario(name: name, description: description, timeScale: timeScale, seed: seed,
                        topology: topology, settings: settings, register: register, shards: shards,
                        workload: workload, steps: steps, file: diagnostics.file)
    }

    private func scenarioName(_ field: Field) -> String? {
        guard let name = diagnostics.string(field) else { return nil }
        let allowed = name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
        guard allowed, !name.isEmpty else {
            diagnostics.report(field.node, field.path,
                               "expected lowercase letters, digits and \"-\" ([a-z0-9-]+), got \(describe(field.node))")
            return nil
        }
        return name
    }

    private func timeScale(_ field: Field) -> Double? {
        guard let value = diagnostics.number(field) else { return nil }
        guard Scenario.timeScaleRange.contains(value) else {
            diagnostics.report(field.node, field.path, "expected a number above 0 and at most 10, got \(describe(field.node))")
            return nil
        }
        return value
    }
}

/// A shard count the product accepts (1, 2, 4, 8, 16 or 32), or nil (reported); `shards` and `set_shards`.
func shardCountValue(_ field: Field, diagnostics: Diagnostics) -> Int? {
    guard let value = diagnostics.integer(field) else { return nil }
    guard Scenario.allowedShardCounts.contains(value) else {
        let options = Scenario.allowedShardCounts.map(String.init)
        diagnostics.report(field.node, field.path,
                           "expected \(options.dropLast().joined(separator: ", ")) or \(options.last!), got \(value)")
        return nil
    }
    return value
}

/// `workload: {messages_per_second: 40, senders: 2}` — a message stream during the run.
func parseWorkload(_ field: Field, diagnostics: Diagnostics) -> Workload? {
    guard let fields = MappingFields(field, allowed: ["messages_per_second", "senders", "min_sends_per_fault"], diagnostics: diagnostics) else { return nil }
    let rate = fields.required("messages_per_second").flatMap { diagnostics.number($0) }
    if let rate, let f = fields.optional("messages_per_second"), !(rate > 0 && rate <= 5000) {
        diagnostics.report(f.node, f.path, "expected a rate in (0, 5000] messages per real second, got \(rate)")
        return nil
    }
    let senders = fields.optional("senders").flatMap { diagnostics.integer($0, in: 1...64) } ?? 2
    let minimum = fields.optional("min_sends_per_fault").flatMap { diagnostics.integer($0, in: 0...1_000_000) } ?? Workload.defaultMinSendsPerFault
    guard let rate else { return nil }
    return Workload(messagesPerSecond: rate, senders: senders, minSendsPerFault: minimum)
}
