import Yams

/// The keys of one YAML mapping, checked against the keys its context allows.
struct MappingFields {
    let field: Field
    private let entries: [(key: String, keyNode: Node, value: Node)]
    private let diagnostics: Diagnostics

    /// Reads a mapping, reporting unknown keys with a suggestion; nil (reported) if not a mapping.
    init?(_ field: Field, allowed: [String], diagnostics: Diagnostics, expecting: String? = nil) {
        guard case .mapping(let mapping) = field.node else {
            diagnostics.report(field.node, field.path,
                               "expected \(expecting ?? "{" + allowed.map { "\($0): ..." }.joined(separator: ", ") + "}"), "
                               + "got \(describe(field.node))")
            return nil
        }
        self.field = field
        self.diagnostics = diagnostics
        entries = mapping.map { (key: $0.key.scalar?.string ?? describe($0.key), keyNode: $0.key, value: $0.value) }
        for entry in entries where !allowed.contains(entry.key) {
            let hint = closestMatch(to: entry.key, among: allowed).map { "did you mean \"\($0)\"?" }
                ?? "expected one of \(allowed.joined(separator: ", "))"
            diagnostics.report(entry.keyNode, field.child(entry.key), "unknown key; \(hint)")
        }
    }

    /// The value under `key`, if present.
    func optional(_ key: String) -> Field? {
        entries.first { $0.key == key }.map { Field(node: $0.value, path: field.child(key), key: $0.keyNode) }
    }

    /// The value under `key`; reports a missing field at the mapping's line when absent.
    func required(_ key: String) -> Field? {
        guard let value = optional(key) else {
            diagnostics.report(field.key ?? field.node, field.child(key), "missing required field")
            return nil
        }
        return value
    }
}

/// How a node reads in a message: `"text"`, `12`, `true`, `null`, `a mapping`, `a list`.
func describe(_ node: Node) -> String {
    switch node {
    case .scalar(let scalar):
        switch node.tagName {
        case .str: return "\"\(scalar.string)\""
        case .null: return "null"
        default: return scalar.string
        }
    case .mapping: return "a mapping"
    case .sequence: return "a list"
    case .alias: return "an alias"
    }
}
