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
    /// The net the hosts were on (`proxy` or `netns`), and how the fabric carried what it could not do natively.
    public var net: String? = nil
    public var netNotes: [String]? = nil
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
