/// One problem in a scenario file, located by file, line and field path.
public struct ScenarioError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The path of the file, as given to the loader.
    public var file: String
    /// 1-based line; 0 when the problem concerns the whole file.
    public var line: Int
    /// Dotted path of the field, e.g. `steps[3].partition.direction`; empty for file-level problems.
    public var field: String
    /// What is wrong, and what was expected.
    public var message: String

    /// Creates an error.
    public init(file: String, line: Int, field: String, message: String) {
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    /// `file:line: field: message`, dropping the line or field when there is none.
    public var description: String {
        var text = file
        if line > 0 { text += ":\(line)" }
        if !field.isEmpty { text += ": \(field)" }
        return text + ": " + message
    }
}

/// Every problem found while loading one or more files; thrown by the loader.
public struct ScenarioErrors: Error, Equatable, Sendable, CustomStringConvertible {
    /// The problems, by file and then by line.
    public var errors: [ScenarioError]

    /// Creates a collection.
    public init(_ errors: [ScenarioError]) {
        self.errors = errors
    }

    /// One problem per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
