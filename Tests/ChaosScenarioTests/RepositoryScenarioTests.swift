import Foundation
import Testing
@testable import ChaosScenario

/// The repository root: this file is `Tests/ChaosScenarioTests/<name>.swift`.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// `chaos/` and each folder directly in it that holds scenario files.
func scenarioDirectories() -> [String] {
    let chaos = repositoryRoot + "/chaos"
    let children = (try? FileManager.default.contentsOfDirectory(atPath: chaos)) ?? []
    return ([chaos] + children.sorted().map { chaos + "/" + $0 })
        .filter { (try? ScenarioLoader.scenarioFiles(in: $0).isEmpty) == false }
}

@Test func everyScenarioFileInTheRepositoryIsValid() throws {
    let directories = scenarioDirectories()
    #expect(!directories.isEmpty, "no scenario files under \(repositoryRoot)/chaos")
    for directory in directories {
        do {
            _ = try ScenarioLoader.loadDirectory(directory)
        } catch {
            Issue.record("\(error)")
        }
    }
}
