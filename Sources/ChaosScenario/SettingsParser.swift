import Yams

/// Reads the `settings` mapping: the two intervals checked, everything else passed through.
struct SettingsParser {
    let diagnostics: Diagnostics

    func parse(_ field: Field) -> SettingsOverrides? {
        guard case .mapping(let mapping) = field.node else {
            diagnostics.report(field.node, field.path, "expected a mapping of application settings, got \(describe(field.node))")
            return nil
        }
        let before = diagnostics.errors.count
        var settings = SettingsOverrides()
        var intervalFields: [String: Field] = [:]
        var intervalsReadable = true
        for (keyNode, valueNode) in mapping {
            let key = keyNode.scalar?.string ?? describe(keyNode)
            let value = Field(node: valueNode, path: field.child(key))
            switch key {
            case "heartbeat_interval":
                settings.heartbeatInterval = diagnostics.integer(value, in: 1...Int.max)
                intervalsReadable = intervalsReadable && settings.heartbeatInterval != nil
                intervalFields[key] = value
            case "unhealthy_interval":
                settings.unhealthyInterval = diagnostics.integer(value, in: 1...Int.max)
                intervalsReadable = intervalsReadable && settings.unhealthyInterval != nil
                intervalFields[key] = value
            default:
                // Unknown keys pass through, but one a typo away from a documented key is surely a typo.
                let documented = SettingsOverrides.documentedKeys
                if !documented.contains(key), let intended = closestMatch(to: key, among: documented) {
                    diagnostics.report(keyNode, field.child(key), "unknown setting; did you mean \"\(intended)\"?")
                } else {
                    settings.passthrough[key] = scenarioValue(valueNode)
                }
            }
        }
        if intervalsReadable { checkIntervalOrder(settings, intervalFields) }
        return diagnostics.errors.count == before ? settings : nil
    }

    /// The product refuses `unhealthy_interval <= heartbeat_interval`; defaults fill the side not set.
    private func checkIntervalOrder(_ settings: SettingsOverrides, _ fields: [String: Field]) {
        let heartbeat = settings.effectiveHeartbeatInterval, unhealthy = settings.effectiveUnhealthyInterval
        guard unhealthy <= heartbeat else { return }
        if let unhealthyField = fields["unhealthy_interval"] {
            let heartbeatSource = settings.heartbeatInterval == nil ? ", the product default" : ""
            diagnostics.report(unhealthyField.node, unhealthyField.path,
                               "must exceed heartbeat_interval (\(heartbeat)\(heartbeatSource)), got \(unhealthy)")
        } else if let heartbeatField = fields["heartbeat_interval"] {
            diagnostics.report(heartbeatField.node, heartbeatField.path,
                               "must be less than unhealthy_interval (\(unhealthy), the product default), got \(heartbeat)")
        }
    }
}

/// A YAML value as a JSON-like value, keeping the type YAML resolved for it.
func scenarioValue(_ node: Node) -> ScenarioValue {
    switch node {
    case .scalar(let scalar):
        switch node.tagName {
        case .null: return .null
        case .bool: return Bool.construct(from: scalar).map(ScenarioValue.bool) ?? .string(scalar.string)
        case .int: return Int.construct(from: scalar).map(ScenarioValue.int) ?? .string(scalar.string)
        case .float: return Double.construct(from: scalar).map(ScenarioValue.double) ?? .string(scalar.string)
        default: return .string(scalar.string)
        }
    case .mapping(let mapping):
        var object: [String: ScenarioValue] = [:]
        for (key, value) in mapping { object[key.scalar?.string ?? describe(key)] = scenarioValue(value) }
        return .object(object)
    case .sequence(let sequence):
        return .list(sequence.map(scenarioValue))
    case .alias:
        return .null
    }
}
