import Foundation
import Testing
@testable import ChaosScenario

/// A fresh directory under the system temporary directory, removed when `body` returns.
func withTemporaryDirectory(_ body: (String) throws -> Void) throws {
    let path = NSTemporaryDirectory() + "chaos-scenario-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    try body(path)
}

func scenarioText(named name: String) -> String {
    "name: \(name)\ntopology: {masters: 1, coreapps: 1}\nsteps:\n  - sleep: 1\n"
}

func write(_ text: String, to path: String) throws {
    try text.write(toFile: path, atomically: true, encoding: .utf8)
}

@Test func directoryLoadsTopLevelYamlFilesSortedByName() throws {
    try withTemporaryDirectory { dir in
        try write(scenarioText(named: "b"), to: dir + "/20-b.yml")
        try write(scenarioText(named: "a"), to: dir + "/10-a.yaml")
        try write(scenarioText(named: "c"), to: dir + "/30-c.yml")
        try write("not a scenario", to: dir + "/README.md")
        try write("broken: [", to: dir + "/.editor-swap.yml")
        try FileManager.default.createDirectory(atPath: dir + "/nested.yml", withIntermediateDirectories: true)
        try write(scenarioText(named: "deep"), to: dir + "/nested.yml/deep.yml")

        let scenarios = try ScenarioLoader.loadDirectory(dir)
        #expect(scenarios.map(\.name) == ["a", "b", "c"])
        #expect(scenarios.map(\.file) == [dir + "/10-a.yaml", dir + "/20-b.yml", dir + "/30-c.yml"])
        #expect(try ScenarioLoader.scenarioFiles(in: dir + "/") == scenarios.map(\.file))
    }
}

@Test func directoryReportsTheErrorsOfEveryFile() throws {
    try withTemporaryDirectory { dir in
        try write(scenarioText(named: "a") + "  - kill: wacore2\n", to: dir + "/a.yml")
        try write(scenarioText(named: "fine"), to: dir + "/b.yml")
        try write(scenarioText(named: "c").replacingOccurrences(of: "sleep: 1", with: "sleep: 0"), to: dir + "/c.yml")
        try write(scenarioText(named: "fine"), to: dir + "/d.yml")
        let error = try #require(throws: ScenarioErrors.self) { try ScenarioLoader.loadDirectory(dir) }
        #expect(error.errors.map(\.description) == [
            "\(dir)/a.yml:5: steps[1].kill: unknown node \"wacore2\": the topology defines wacore1",
            "\(dir)/c.yml:4: steps[0].sleep: expected a duration in logical seconds (more than 0), got 0",
            "\(dir)/d.yml: name: \"fine\" is already the name of \(dir)/b.yml",
        ])
    }
}

@Test func emptyOrMissingDirectoriesAreErrors() throws {
    try withTemporaryDirectory { dir in
        let empty = try #require(throws: ScenarioErrors.self) { try ScenarioLoader.loadDirectory(dir) }
        #expect(empty.description == "\(dir): no scenario files (*.yml, *.yaml) in this directory")
        let missing = try #require(throws: ScenarioErrors.self) { try ScenarioLoader.loadDirectory(dir + "/nope") }
        #expect(missing.errors.first?.file == dir + "/nope")
    }
}

@Test func loadReadsOneFileAndNamesItInErrors() throws {
    try withTemporaryDirectory { dir in
        try write(scenarioText(named: "one"), to: dir + "/one.yml")
        #expect(try ScenarioLoader.load(path: dir + "/one.yml").name == "one")
        let missing = try #require(throws: ScenarioErrors.self) { try ScenarioLoader.load(path: dir + "/two.yml") }
        #expect(missing.description == "\(dir)/two.yml: cannot read the file")
        try Data([0xFF, 0xFE, 0x00]).write(to: URL(fileURLWithPath: dir + "/binary.yml"))
        let binary = try #require(throws: ScenarioErrors.self) { try ScenarioLoader.load(path: dir + "/binary.yml") }
        #expect(binary.description == "\(dir)/binary.yml: the file is not UTF-8 text")
    }
}
