import Yams

/// Turns Yams' errors into located scenario errors, keeping Yams' own line and wording.
func scenarioError(fromYAMLError error: Error, file: String) -> ScenarioError {
    guard let yamlError = error as? YamlError else {
        return ScenarioError(file: file, line: 0, field: "", message: "invalid YAML: \(error)")
    }
    switch yamlError {
    case .scanner(let context, let problem, let mark, _),
         .parser(let context, let problem, let mark, _),
         .composer(let context, let problem, let mark, _):
        let circumstance = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
        // The usual cause in scenario files: an unquoted value with ": " inside, like a selector.
        let hint = problem.hasPrefix("mapping values are not allowed")
            ? "; quote a value that contains \": \"" : ""
        return ScenarioError(file: file, line: mark.line, field: "",
                             message: "invalid YAML: \(problem), column \(mark.column)\(circumstance)\(hint)")
    case .duplicatedKeysInMapping(let duplicates, let context):
        let keys = duplicates.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
        return ScenarioError(file: file, line: context.mark.line, field: "",
                             message: "invalid YAML: duplicate key \(keys) in one mapping")
    case .reader(let problem, _, _, _):
        return ScenarioError(file: file, line: 0, field: "", message: "invalid YAML: \(problem)")
    default:
        return ScenarioError(file: file, line: 0, field: "", message: "invalid YAML: \(yamlError)")
    }
}
