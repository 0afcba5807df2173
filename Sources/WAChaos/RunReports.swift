import ChaosCheckers
import Foundation

/// Everything about one scenario run.
public struct ScenarioReport: Codable, Sendable {
    public var scenario: String
    public var file: String
    public var seed: UInt64
    public var timeScale: Double
    public var verdict: Verdict
    public var realSeconds: Double
    public var checks: [CheckResult]
    public var error: String?
    public var runDirectory: String
}

/// One line of the runner's own timeline (`timeline.jsonl`).
struct TimelineEntry: Codable {
    var ts: Double
    var scenario: String
    var step: Int
    var line: Int?
    var kind: String
    var detail: String
}
