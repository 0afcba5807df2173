import Foundation
import Yams

/// Reads scenario files. Every entry point throws `ScenarioErrors` holding every problem found.
public enum ScenarioLoader {
    /// Reads and validates one file; `path` is used as given in error messages.
    public static func load(path: String) throws -> Scenario {
        try check(path: path).get()
    }

    /// Parses and validates YAML text; `file` names it in error messages.
    public static func parse(yaml: String, file: String) throws -> Scenario {
        try check(yaml: yaml, file: file).get()
    }

    /// Parses and validates YAML text, returning the scenario or every problem in it.
    public static func check(yaml: String, file: String) -> Result<Scenario, ScenarioErrors> {
        let root: Node?
        do {
            root = try composeScenarioYAML(yaml)
        } catch {
            return .failure(ScenarioErrors([scenarioError(fromYAMLError: error, file: file)]))
        }
        guard let root else {
            return .failure(ScenarioErrors([ScenarioError(file: file, line: 0, field: "", message: "the file is empty")]))
        }
        let diagnostics = Diagnostics(file: file)
        if let scenario = ScenarioParser(diagnostics: diagnostics).parse(root), diagnostics.errors.isEmpty {
            return .success(scenario)
        }
        return .failure(ScenarioErrors(diagnostics.sortedErrors))
    }

    /// Reads one file, returning the scenario or every problem in it.
    public static func check(path: String) -> Result<Scenario, ScenarioErrors> {
        switch readText(path) {
        case .success(let text): return check(yaml: text, file: path)
        case .failure(let error): return .failure(ScenarioErrors([error]))
        }
    }

    /// Every `*.yml` and `*.yaml` file directly in `directory` (no hidden files, no subdirectories), sorted by name.
    public static func scenarioFiles(in directory: String) throws -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw ScenarioErrors([ScenarioError(file: directory, line: 0, field: "",
                                                message: "cannot list the directory: \(error.localizedDescription)")])
        }
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        // Byte order, not the locale's: the same order on every machine.
        return names
            .filter { !$0.hasPrefix(".") && ($0.hasSuffix(".yml") || $0.hasSuffix(".yaml")) }
            .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            .map { base + $0 }
            .filter { !isDirectory($0) }
    }

    /// Loads every scenario file of a directory in name order; fails with the problems of every
    /// file, when there is none, or when two files share a scenario name (reports would collide).
    public static func loadDirectory(_ directory: String) throws -> [Scenario] {
        let files = try scenarioFiles(in: directory)
        guard !files.isEmpty else {
            throw ScenarioErrors([ScenarioError(file: directory, line: 0, field: "",
                                                message: "no scenario files (*.yml, *.yaml) in this directory")])
        }
        var scenarios: [Scenario] = []
        var problems: [ScenarioError] = []
        var fileByName: [String: String] = [:]
        for file in files {
            switch check(path: file) {
            case .failure(let errors):
                problems += errors.errors
            case .success(let scenario):
                if let earlier = fileByName[scenario.name] {
                    problems.append(ScenarioError(file: file, line: 0, field: "name",
                                                  message: "\"\(scenario.name)\" is already the name of \(earlier)"))
                } else {
                    fileByName[scenario.name] = file
                    scenarios.append(scenario)
                }
            }
        }
        guard problems.isEmpty else { throw ScenarioErrors(problems) }
        return scenarios
    }

    /// One step as a scenario spells it (YAML or JSON: `kill: wacore1`, `{"heal": "all"}`), checked
    /// against a running cluster's topology and shard count: what a session of `wachaos up` is
    /// asked to do. `source` names the request in errors (`control request:1: kill: ...`).
    /// `sawFault`: whether an earlier step was a fault (what `expect_failover` measures from).
    public static func step(_ text: String, topology: Topology, shards: Int, sawFault: Bool = true,
                            source: String = "control request") -> Result<Step, ScenarioErrors> {
        let root: Node?
        do { root = try composeScenarioYAML(text) } catch {
            return .failure(ScenarioErrors([scenarioError(fromYAMLError: error, file: source)]))
        }
        guard let root else {
            return .failure(ScenarioErrors([ScenarioError(file: source, line: 0, field: "", message: "expected a step such as `kill: wacore1`, got nothing")]))
        }
        let diagnostics = Diagnostics(file: source)
        var context = TimelineContext(topology: topology, shards: shards)
        context.sawFault = sawFault
        var timeline = TimelineParser(diagnostics: diagnostics, context: context)
        let step = timeline.parseStep(Field(node: root, path: ""))
        guard let step, diagnostics.errors.isEmpty else { return .failure(ScenarioErrors(diagnostics.sortedErrors)) }
        return .success(step)
    }

    /// Yams' composer, retried once with `owner(shard: N)` respaced (see `respacingShardSelectors`).
    private static func composeScenarioYAML(_ yaml: String) throws -> Node? {
        do {
            return try Yams.compose(yaml: yaml)
        } catch {
            let respaced = respacingShardSelectors(yaml)
            guard respaced != yaml else { throw error }
            return try Yams.compose(yaml: respaced)
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }

    private static func readText(_ path: String) -> Result<String, ScenarioError> {
        guard let data = FileManager.default.contents(atPath: path) else {
            return .failure(ScenarioError(file: path, line: 0, field: "", message: "cannot read the file"))
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return .failure(ScenarioError(file: path, line: 0, field: "", message: "the file is not UTF-8 text"))
        }
        return .success(text)
    }
}
