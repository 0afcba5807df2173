/// `kill`, `stop`, `restart`, `start`, `pause`, `resume`: a selector, or `{node: selector, as: label}`.
extension TimelineParser {
    mutating func processTarget(_ value: Field, _ kind: StepKind) -> NodeTarget? {
        guard case .mapping = value.node else {
            return selector(value, use: .process(kind)).map { NodeTarget($0) }
        }
        guard let fields = MappingFields(value, allowed: ["node", "as"], diagnostics: diagnostics) else { return nil }
        let selector = fields.required("node").flatMap { self.selector($0, use: .process(kind)) }
        let labelField = fields.optional("as")
        let label = labelField.flatMap(label)
        // Bound even when the node is wrong, so later `$label` uses do not repeat the same problem.
        if let label { context.labels.insert(label) }
        guard let selector, labelField == nil || label != nil else { return nil }
        return NodeTarget(selector, label: label)
    }

    /// A label: lowercase letters, digits and `_`, starting with a letter (written without `$`).
    private func label(_ field: Field) -> String? {
        guard let text = diagnostics.string(field) else { return nil }
        let scalars = Array(text.unicodeScalars)
        let valid = scalars.first.map { ("a"..."z").contains($0) } == true
            && scalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
        guard valid else {
            diagnostics.report(field.node, field.path,
                               "expected a label ([a-z][a-z0-9_]*, used later as $label), got \(describe(field.node))")
            return nil
        }
        return text
    }
}
