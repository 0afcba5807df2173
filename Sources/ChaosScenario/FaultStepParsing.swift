import WACore

/// `skew`, `gateway` and `nemesis`.
extension TimelineParser {
    /// `skew: {node: wacore1, by: -5000, drift_ppm: 0}` — logical milliseconds; `by: 0` heals.
    mutating func skew(_ value: Field, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["node", "by", "drift_ppm"], diagnostics: diagnostics) else { return nil }
        let nodeField = fields.required("node")
        let node = nodeField.flatMap { selector($0, use: .process(.skew)) }
        let by = fields.required("by").flatMap { diagnostics.integer($0, in: -3_600_000...3_600_000) }
        let drift = fields.optional("drift_ppm").map { diagnostics.integer($0, in: -500_000...500_000) } ?? 0
        if let node, case .name(let name) = node, let nodeField, let topology = context.topology,
           let role = nodeRole(named: name, in: topology), role == .db || role == .gateway {
            diagnostics.report(nodeField.node, nodeField.path,
                               "\(name) keeps the cluster's reference time (leases are judged on the database's clock); skew a webapp, master or coreapp")
            return nil
        }
        guard let node, let by, let drift else { return nil }
        return .skew(NodeTarget(node), byMs: by, driftPPM: drift, line: line)
    }

    /// `db_lock: {for: S}`: the runner holds the SQLite write lock, so only the embedded engine has it.
    func dbLock(_ value: Field, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["for"], diagnostics: diagnostics, expecting: "{for: S}") else { return nil }
        guard let seconds = fields.required("for").flatMap({ diagnostics.duration($0) }) else { return nil }
        if let topology = context.topology, topology.db != .sqlite {
            diagnostics.report(value.node, value.path,
                               "db_lock holds the SQLite write lock, which only the embedded engine (db: sqlite) has; on \(topology.db.scenarioName) pause the db instead (pause: db)")
            return nil
        }
        return .dbLock(seconds: seconds, line: line)
    }

    /// `gateway: {fault: drop_acks, shard: 0}`; `ms` for the delays, `seconds` for a ban.
    func gatewayFault(_ value: Field, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["fault", "shard", "ms", "seconds"], diagnostics: diagnostics,
                                         expecting: "{fault: KIND, ...}") else { return nil }
        guard let kind = fields.required("fault").flatMap({ diagnostics.choice($0, of: GatewayFault.Kind.self) }) else { return nil }
        let shardField = fields.optional("shard")
        let shard = shardField.flatMap { diagnostics.integer($0, in: 0...31) }
        if let shard, let shardField, let problem = context.shardProblem(shard) {
            diagnostics.report(shardField.node, shardField.path, problem); return nil
        }
        func required(_ key: String, _ range: ClosedRange<Int>) -> Int? {
            fields.required(key).flatMap { diagnostics.integer($0, in: range) }
        }
        let allowed: Set<String> = switch kind {
        case .dropAcks, .dropSession: ["fault", "shard"]
        case .delayAcks, .delayStatuses: ["fault", "ms"]
        case .ban: ["fault", "seconds"]
        case .refuseConnections, .heal: ["fault"]
        }
        for key in ["shard", "ms", "seconds"] where !allowed.contains(key) {
            if let f = fields.optional(key) { diagnostics.report(f.key ?? f.node, f.path, "\(kind.rawValue) takes no \(key)"); return nil }
        }
        switch kind {
        case .delayAcks: return required("ms", 0...600_000).map { .gateway(.delayAcks(milliseconds: $0), line: line) }
        case .delayStatuses: return required("ms", 0...600_000).map { .gateway(.delayStatuses(milliseconds: $0), line: line) }
        case .ban: return required("seconds", 1...3600).map { .gateway(.ban(seconds: Double($0)), line: line) }
        case .dropAcks: return .gateway(.dropAcks(shard: shard), line: line)
        case .dropSession: return .gateway(.dropSession(shard: shard), line: line)
        case .refuseConnections: return .gateway(.refuseConnections, line: line)
        case .heal: return .gateway(.heal, line: line)
        }
    }

    /// `nemesis: {faults: [kill, pause], interval: 10, duration: 180, targets: coreapp}`.
    func nemesis(_ value: Field, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["faults", "interval", "duration", "hold", "targets", "concurrent", "seed"],
                                         diagnostics: diagnostics) else { return nil }
        var faults: [NemesisPlan.Fault]?
        if let f = fields.required("faults") {
            if case .sequence(let items) = f.node, !items.isEmpty {
                let read = items.enumerated().map { i, n in diagnostics.choice(Field(node: n, path: "\(f.path)[\(i)]"), of: NemesisPlan.Fault.self) }
                if read.allSatisfy({ $0 != nil }) { faults = read.map { $0! } }
            } else {
                diagnostics.report(f.node, f.path, "expected a list of faults (\(NemesisPlan.Fault.allCases.map(\.rawValue).joined(separator: ", "))), got \(describe(f.node))")
            }
        }
        let interval = fields.optional("interval").map { diagnostics.duration($0) } ?? 10
        let duration = fields.required("duration").flatMap { diagnostics.duration($0) }
        let hold = fields.optional("hold").flatMap { diagnostics.duration($0) }
        let targets = fields.optional("targets").map { diagnostics.choice($0, of: NemesisPlan.Targets.self) } ?? .coreapp
        let concurrent = fields.optional("concurrent").map { diagnostics.integer($0, in: 1...8) } ?? 1
        let seed = fields.optional("seed").flatMap { diagnostics.integer($0, in: 0...Int.max) }.map(UInt64.init)
        guard let faults, let interval, let duration, let targets, let concurrent else { return nil }
        if duration < interval, let f = fields.optional("duration") {
            diagnostics.report(f.node, f.path, "must be at least the interval (\(interval) logical s), got \(duration)"); return nil
        }
        return .nemesis(NemesisPlan(faults: faults, interval: interval, duration: duration, hold: hold, targets: targets,
                                    concurrent: concurrent, seed: seed), line: line)
    }

    /// `contacts: {on_whatsapp: ["+16315551002"], not_on_whatsapp: ["16315551003"]}`: numbers as
    /// a client writes them; each must name a WhatsApp id (5 to 20 digits).
    func contacts(_ value: Field, line: Int) -> Step? {
        guard let fields = MappingFields(value, allowed: ["on_whatsapp", "not_on_whatsapp"], diagnostics: diagnostics,
                                         expecting: "{on_whatsapp: [NUMBER, ...], not_on_whatsapp: [NUMBER, ...]}") else { return nil }
        func numbers(_ key: String) -> [String]? {
            guard let f = fields.optional(key) else { return [] }
            guard case .sequence(let items) = f.node else {
                diagnostics.report(f.node, f.path, "expected a list of phone numbers, got \(describe(f.node))"); return nil
            }
            var out: [String] = []
            for (i, n) in items.enumerated() {
                let item = Field(node: n, path: "\(f.path)[\(i)]")
                guard let text = diagnostics.string(item) else { return nil }
                guard let id = RequestRules.contactID(text) else {
                    diagnostics.report(item.node, item.path, "expected a phone number (5 to 20 digits, optionally with +, spaces, dashes or parentheses), got \"\(text)\""); return nil
                }
                out.append(id)
            }
            return out
        }
        guard let on = numbers("on_whatsapp"), let off = numbers("not_on_whatsapp") else { return nil }
        guard !on.isEmpty || !off.isEmpty else {
            diagnostics.report(value.node, value.path, "names no number; give on_whatsapp, not_on_whatsapp or both"); return nil
        }
        if let both = on.first(where: off.contains) {
            diagnostics.report(value.node, value.path, "\(both) is in both on_whatsapp and not_on_whatsapp"); return nil
        }
        return .contacts(onWhatsApp: on, notOnWhatsApp: off, line: line)
    }
}
