import ChaosScenario
import Foundation
import WACore

/// What a session of `wachaos up` did to its cluster, kept as a scenario `wachaos run` replays:
/// the session's topology, settings, shards and workload, then every step it took with the time
/// between them as `sleep` steps (logical seconds: real gaps over the session's time scale).
public struct SessionRecording: Sendable {
    public struct Entry: Sendable, Equatable {
        public var step: Step
        /// Real seconds since the session's cluster was up, when the step began and ended.
        public var started: Double
        public var ended: Double
    }

    public private(set) var header: Scenario
    public let scale: Double
    public private(set) var entries: [Entry] = []

    /// `header` gives everything but the steps; `scale` turns real gaps into logical ones.
    public init(header: Scenario, scale: Double) {
        self.header = header
        self.scale = scale
    }

    /// The seed and engine the session ran with (flags override the file's).
    public mutating func ran(seed: UInt64, engine: DatabaseEngine) {
        header.seed = seed
        header.topology.db = engine
    }

    /// Records a step that ran. `sleep` steps are not kept: the time between steps is.
    public mutating func append(_ step: Step, started: Double, ended: Double) {
        if case .sleep = step { return }
        entries.append(Entry(step: step, started: started, ended: ended))
    }

    /// The session as a scenario; `endedAt` (real seconds since the cluster was up) adds the
    /// final stretch, so a replay runs its workload as long as the session did.
    public func scenario(endedAt: Double? = nil) -> Scenario {
        var s = header
        s.name = Self.name(for: header.name)
        s.timeScale = scale
        s.description = "Recorded by wachaos up from \(header.name); `wachaos run` this file to replay the session."
        var steps: [Step] = []
        var last = 0.0
        func gap(until t: Double) {
            let logical = ((t - last) / scale * 10).rounded() / 10
            if logical >= 0.1 { steps.append(.sleep(logical, line: steps.count + 1)) }
        }
        for e in entries {
            gap(until: e.started)
            // Lines are the file's business: the writer drops them, the loader numbers them anew.
            steps.append(e.step)
            last = e.ended
        }
        if let endedAt { gap(until: endedAt) }
        if steps.isEmpty { steps = [.sleep(1, line: 1)] }
        s.steps = steps
        return s
    }

    /// `demo` → `demo-session` (a recording of a recording keeps one suffix).
    public static func name(for scenario: String) -> String {
        scenario.hasSuffix("-session") ? scenario : scenario + "-session"
    }
}
