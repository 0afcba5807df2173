@testable import ChaosScenario

/// Every error of a YAML text, as the lines a user would read.
func errorLines(_ yaml: String, file: String = "chaos/t.yml") -> [String] {
    switch ScenarioLoader.check(yaml: yaml, file: file) {
    case .success: return []
    case .failure(let errors): return errors.errors.map(\.description)
    }
}

/// A valid preamble: 2 masters, 3 coreapps, 2 shards; the first step goes on line 5.
let preamble = """
name: t
topology: {masters: 2, coreapps: 3}
shards: 2
steps:

"""
