/// `wait_healthy`, `check_health` and the `expect_*` steps.
extension TimelineParser {
    /// Default for `wait_healthy` without a timeout: boot and registration take under a minute.
    static let defaultHealthyTimeout: LogicalSeconds = 120

    /// `wait_healthy:` alone, `{}`, or `{timeout: N}`.
    func waitHealthy(_ value: Field, line: Int) -> Step? {
        if value.node.tagName == .null { return .waitHealthy(timeout: Self.defaultHealthyTimeout, line: line) }
        guard let fields = MappingFields(value, allowed: ["timeout"], diagnostics: diagnostics) else { return nil }
        let timeout = fields.optional("timeout").map { diagnostics.duration($0) } ?? Self.defaultHealthyTimeout
        return timeout.map { .waitHealthy(timeout: $0, line: line) }
    }

    /// `{golden: file.json, within: N}`; the golden is a bare file name under `fixtures/health/`.
    func checkHealth(_ value: Field, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["golden", "within"], diagnostics: diagnostics) else {
            return nil
        }
        let golden = fields.required("golden").flatMap(goldenFileName)
        let withinField = fields.optional("within")
        let within = withinField.flatMap { diagnostics.duration($0) }
        guard let golden, withinField == nil || within != nil else { return nil }
        return .checkHealth(golden: golden, within: within, line: line)
    }

    func expectFailover(_ value: Field, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["shard", "bound"], diagnostics: diagnostics) else {
            return nil
        }
        let shard = fields.optional("shard").map(shardNumber) ?? 0
        let bound = fields.required("bound").flatMap(failoverBound)
        guard let shard, let bound else { return nil }
        guard context.sawFault else {
            diagnostics.report(value.node, value.path,
                               "no earlier fault step (kill, stop, restart, pause, partition, delay, bandwidth, reset) "
                               + "to measure the failover from")
            return nil
        }
        return .expectFailover(shard: shard, bound: bound, line: line)
    }

    /// `{shard: N, for: S}`, and `since: fault` to hold the owner from the latest fault on.
    func expectNoFailover(_ value: Field, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["shard", "for", "since"], diagnostics: diagnostics) else {
            return nil
        }
        let shard = fields.optional("shard").map(shardNumber) ?? 0
        let duration = fields.required("for").flatMap { diagnostics.duration($0) }
        var sinceFault = false
        if let since = fields.optional("since") {
            guard since.node.scalar?.string == "fault" else {
                diagnostics.report(since.node, since.path, "expected \"fault\" (hold the owner from the latest fault step on), got \(describe(since.node))")
                return nil
            }
            guard context.sawFault else {
                diagnostics.report(since.node, since.path, "no earlier fault step to hold the owner from")
                return nil
            }
            sinceFault = true
        }
        guard let shard, let duration else { return nil }
        return .expectNoFailover(shard: shard, duration: duration, sinceFault: sinceFault, line: line)
    }

    /// `expect_recovery:` alone or `{}` (the product's bound), or `{within: S}`.
    func expectRecovery(_ value: Field, line: Int) -> Step? {
        guard context.sawFault else {
            diagnostics.report(value.node, value.path, "no earlier fault step on the database to recover from")
            return nil
        }
        if value.node.tagName == .null { return .expectRecovery(within: nil, line: line) }
        guard let fields = MappingFields(value, allowed: ["within"], diagnostics: diagnostics) else { return nil }
        let withinField = fields.optional("within")
        let within = withinField.flatMap { diagnostics.duration($0) }
        guard withinField == nil || within != nil else { return nil }
        return .expectRecovery(within: within, line: line)
    }

    func expectPrimaryMaster(_ value: Field, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["changes", "within"], diagnostics: diagnostics) else {
            return nil
        }
        let changes = fields.required("changes").flatMap(diagnostics.boolean)
        let within = fields.required("within").flatMap { diagnostics.duration($0) }
        guard let changes, let within else { return nil }
        return .expectPrimaryMaster(changes: changes, within: within, line: line)
    }

    /// `heartbeat`, `db`, or `{min: A, max: B}` in logical seconds with `0 <= A < B`.
    private func failoverBound(_ field: Field) -> FailoverBound? {
        if case .scalar(let scalar) = field.node {
            switch scalar.string {
            case "heartbeat": return .heartbeat
            case "db": return .db
            default:
                diagnostics.report(field.node, field.path,
                                   "expected \"heartbeat\", \"db\" or {min: A, max: B}, got \(describe(field.node))")
                return nil
            }
        }
        guard let fields = MappingFields(field, allowed: ["min", "max"], diagnostics: diagnostics,
                                         expecting: "\"heartbeat\", \"db\" or {min: A, max: B}") else { return nil }
        let minimum = fields.required("min").flatMap { diagnostics.duration($0, allowZero: true) }
        let maximumField = fields.required("max")
        let maximum = maximumField.flatMap { diagnostics.duration($0) }
        guard let minimum, let maximum, let maximumField else { return nil }
        guard minimum < maximum else {
            diagnostics.report(maximumField.node, maximumField.path,
                               "must be more than min (\(describe(fields.optional("min")!.node))), got \(describe(maximumField.node))")
            return nil
        }
        return .range(min: minimum, max: maximum)
    }

    /// A shard number that exists at this point of the timeline.
    private func shardNumber(_ field: Field) -> Int? {
        guard let shard = diagnostics.integer(field, in: 0...Int.max) else { return nil }
        if let problem = context.shardProblem(shard) {
            diagnostics.report(field.node, field.path, problem)
            return nil
        }
        return shard
    }

    /// A plain file name: no directories, no `..`, no hidden files, ending in `.json`.
    private func goldenFileName(_ field: Field) -> String? {
        guard let name = diagnostics.string(field) else { return nil }
        let plain = name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "._-".unicodeScalars.contains($0)
        }
        guard plain, !name.hasPrefix("."), !name.contains("..") else {
            diagnostics.report(field.node, field.path,
                               "expected a file name under fixtures/health/ (letters, digits, \".\", \"_\", \"-\"; "
                               + "no \"/\" or \"..\"), got \(describe(field.node))")
            return nil
        }
        guard name.hasSuffix(".json"), name.count > 5 else {
            diagnostics.report(field.node, field.path, "expected a .json file name, got \(describe(field.node))")
            return nil
        }
        return name
    }
}
