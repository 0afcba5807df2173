import Yams

/// Reads `steps`, in order, tracking what earlier steps imply (shard count, faults, labels).
struct TimelineParser {
    let diagnostics: Diagnostics
    var context: TimelineContext

    /// Every readable step; unreadable ones are reported and skipped.
    mutating func parseSteps(_ field: Field) -> [Step] {
        guard case .sequence(let items) = field.node, !items.isEmpty else {
            let got = { if case .sequence = field.node { return "an empty list" } else { return describe(field.node) } }()
            diagnostics.report(field.node, field.path, "expected a list of steps, got \(got)")
            return []
        }
        var steps: [Step] = []
        for (index, item) in items.enumerated() {
            if let step = parseStep(Field(node: item, path: "\(field.path)[\(index)]")) {
                steps.append(step)
            }
        }
        return steps
    }

    /// `workload: stop`, or a workload as at the top of the file.
    private func workload(_ value: Field, line: Int) -> Step? {
        if case .scalar(let s) = value.node, s.string == "stop" { return .workload(nil, line: line) }
        guard case .mapping = value.node else {
            diagnostics.report(value.node, value.path, "expected \"stop\" or {messages_per_second: N, senders: N}, got \(describe(value.node))")
            return nil
        }
        return parseWorkload(value, diagnostics: diagnostics).map { .workload($0, line: line) }
    }

    /// One step: a mapping with exactly one key, its kind.
    mutating func parseStep(_ item: Field) -> Step? {
        guard case .mapping(let mapping) = item.node, mapping.count == 1, let (keyNode, valueNode) = mapping.first else {
            reportMisshapenStep(item)
            return nil
        }
        let key = keyNode.scalar?.string ?? describe(keyNode)
        guard let kind = StepKind(rawValue: key) else {
            diagnostics.report(keyNode, item.path, "unknown step kind \"\(key)\""
                + (closestMatch(to: key, among: StepKind.allCases.map(\.rawValue)).map { "; did you mean \"\($0)\"?" }
                    ?? "; expected one of \(StepKind.allCases.map(\.rawValue).joined(separator: ", "))"))
            return nil
        }
        let value = Field(node: valueNode, path: item.child(key), key: keyNode)
        let line = keyNode.mark?.line ?? item.line
        let step = parse(kind, value, line: line)
        if kind.isFault { context.sawFault = true }
        return step
    }

    private mutating func parse(_ kind: StepKind, _ value: Field, line: Int) -> Step? {
        switch kind {
        case .waitHealthy: return waitHealthy(value, line: line)
        case .checkHealth: return checkHealth(value, line: line)
        case .kill: return processTarget(value, kind).map { .kill($0, line: line) }
        case .stop: return processTarget(value, kind).map { .stop($0, line: line) }
        case .restart: return processTarget(value, kind).map { .restart($0, line: line) }
        case .start: return processTarget(value, kind).map { .start($0, line: line) }
        case .pause: return processTarget(value, kind).map { .pause($0, line: line) }
        case .resume: return processTarget(value, kind).map { .resume($0, line: line) }
        case .partition: return partition(value, line: line)
        case .delay: return delay(value, line: line)
        case .bandwidth: return bandwidth(value, line: line)
        case .reset: return reset(value, line: line)
        case .loss: return packets(value, fault: .loss, line: line)
        case .duplicate: return packets(value, fault: .duplicate, line: line)
        case .corrupt: return packets(value, fault: .corrupt, line: line)
        case .heal: return heal(value, line: line)
        case .expectFailover: return expectFailover(value, line: line)
        case .expectNoFailover: return expectNoFailover(value, line: line)
        case .expectPrimaryMaster: return expectPrimaryMaster(value, line: line)
        case .expectRecovery: return expectRecovery(value, line: line)
        case .dbLock: return dbLock(value, line: line)
        case .setShards: return setShards(value, line: line)
        case .contacts: return contacts(value, line: line)
        case .sleep: return diagnostics.duration(value).map { .sleep($0, line: line) }
        case .run: return run(value, line: line)
        case .skew: return skew(value, line: line)
        case .gateway: return gatewayFault(value, line: line)
        case .nemesis: return nemesis(value, line: line)
        case .upgrade: return upgrade(value, line: line)
        case .handover: return handover(value, line: line)
        case .dbupgrade: return buildName(value).map { .dbupgrade(build: $0, line: line) }
        case .workload: return workload(value, line: line)
        case .settings: return SettingsParser(diagnostics: diagnostics).parse(value).map { .settings($0, line: line) }
        }
    }

    /// Explains the usual cause: fields written beside the kind instead of indented under it.
    private func reportMisshapenStep(_ item: Field) {
        guard case .mapping(let mapping) = item.node else {
            diagnostics.report(item.node, item.path,
                               "expected a step (a mapping with one key, its kind), got \(describe(item.node))")
            return
        }
        let keys = mapping.map { $0.key.scalar?.string ?? describe($0.key) }
        var message = "a step has exactly one key, its kind; got \(keys.count): \(keys.joined(separator: ", "))"
        if let first = mapping.first, case .scalar = first.value, first.value.tagName == .null, keys.count > 1 {
            message += " (indent \(keys.dropFirst().joined(separator: ", ")) under \(keys[0])?)"
        }
        diagnostics.report(item.node, item.path, message)
    }

    /// A build the topology names (or `new`).
    private func buildName(_ f: Field) -> String? {
        let known = Set(context.topology?.builds.keys.map { $0 } ?? []).union([Topology.newBuild])
        guard let name = diagnostics.string(f) else { return nil }
        guard context.topology == nil || known.contains(name) else {
            diagnostics.report(f.node, f.path, "no build named \"\(name)\"; builds: \(known.sorted().joined(separator: ", ")) (name it under topology.builds)")
            return nil
        }
        return name
    }

    /// `upgrade: {to: new, strategy: rolling|all-at-once|random, seed: 7, max_unavailable: 1, fail_dbupgrade: true}`.
    private func upgrade(_ value: Field, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["to", "strategy", "seed", "max_unavailable", "fail_dbupgrade"], diagnostics: diagnostics,
                                         expecting: "{to: BUILD, strategy: all-at-once|rolling|random}") else { return nil }
        let to = fields.optional("to").flatMap(buildName) ?? Topology.newBuild
        let strategy = fields.required("strategy").flatMap { diagnostics.choice($0, among: UpgradeStrategy.allCases, spelled: \.rawValue) }
        let seed = fields.optional("seed").flatMap { diagnostics.integer($0, in: 0...Int.max) }.map(UInt64.init)
        let bound = fields.optional("max_unavailable").flatMap { diagnostics.duration($0) }
        let fail = fields.optional("fail_dbupgrade").flatMap(diagnostics.boolean) ?? false
        if let s = fields.optional("seed"), strategy != .random, strategy != nil {
            diagnostics.report(s.key ?? s.node, s.path, "seed orders a random upgrade only; remove it or use strategy: random")
        }
        guard let strategy else { return nil }
        return .upgrade(UpgradePlan(to: to, strategy: strategy, seed: seed, failDBUpgrade: fail, maxUnavailable: bound), line: line)
    }

    /// `handover: {shard: 0, to: wacore3}`.
    private func handover(_ value: Field, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["shard", "to"], diagnostics: diagnostics, expecting: "{shard: N, to: COREAPP}") else { return nil }
        guard let shardField = fields.required("shard"), let shard = diagnostics.integer(shardField, in: 0...31) else { return nil }
        if let problem = context.shardProblem(shard) { diagnostics.report(shardField.node, shardField.path, problem); return nil }
        let to = fields.optional("to").flatMap { selector($0, use: .process(.handover)) }
        if fields.optional("to") != nil, to == nil { return nil }
        return .handover(shard: shard, to: to, line: line)
    }

    private mutating func setShards(_ value: Field, line: Int) -> Step? {
        let count = shardCountValue(value, diagnostics: diagnostics)
        // An unreadable count makes later shard numbers uncheckable rather than wrongly checked.
        context.shards = count
        return count.map { .setShards($0, line: line) }
    }

    private func run(_ value: Field, line: Int) -> Step? {
        guard let command = diagnostics.string(value) else { return nil }
        guard !command.trimmingWhitespace.isEmpty else {
            diagnostics.report(value.node, value.path, "expected a shell command, got an empty string")
            return nil
        }
        return .run(command: command, line: line)
    }
}
