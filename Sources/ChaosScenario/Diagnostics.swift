import Yams

/// Collects every problem of one file, so validation reports them all rather than the first.
final class Diagnostics {
    let file: String
    private(set) var errors: [ScenarioError] = []

    init(file: String) {
        self.file = file
    }

    /// Records a problem at the node's line (0 when the node carries no position).
    func report(_ node: Node?, _ field: String, _ message: String) {
        report(line: node?.mark?.line ?? 0, field, message)
    }

    /// Records a problem at an explicit line.
    func report(line: Int, _ field: String, _ message: String) {
        errors.append(ScenarioError(file: file, line: line, field: field, message: message))
    }

    /// The problems by line; ties keep the order found (a stable sort: the parse order is meaningful).
    var sortedErrors: [ScenarioError] {
        errors.enumerated()
            .sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
            .map(\.element)
    }
}

/// A YAML value together with the dotted path that names it in error messages.
struct Field {
    let node: Node
    let path: String
    /// The key this value sits under, if any: missing sub-fields are reported on the key's line.
    var key: Node? = nil

    var line: Int { node.mark?.line ?? 0 }

    /// The path of a key below this one.
    func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}

extension Node {
    /// The resolved YAML tag (`int`, `str`, `null`, ...), which decides how a plain scalar reads.
    var tagName: Tag.Name { Tag.Name(rawValue: tag.rawValue) }
}
