import Foundation
import Synchronization

/// A skew of one node's clock, as the chaos runner sets it: a step of the wall clock by
/// `offsetMilliseconds` (logical) and a rate error of `driftPPM` parts per million, applied
/// to both the wall and the monotonic reading from the moment it is set.
public struct ClockSkew: Codable, Equatable, Sendable {
    public var offsetMilliseconds: Double
    public var driftPPM: Double
    public init(offsetMilliseconds: Double = 0, driftPPM: Double = 0) {
        self.offsetMilliseconds = offsetMilliseconds; self.driftPPM = driftPPM
    }
    public static let none = ClockSkew()
    enum CodingKeys: String, CodingKey { case offsetMilliseconds = "offset_ms", driftPPM = "drift_ppm" }

    /// Writes the control file a `SkewableClock` reads (atomically, so it never reads half a file).
    public func write(toControlFile path: String) throws {
        let data = try JSONCodec.encodedData(self)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// The scaled system clock, skewed by a control file only the chaos runner writes
/// (`WA_CLOCK_CONTROL`). Skew needs no privilege: it moves the clock a node was handed, not the
/// machine's. A wall-clock step moves `now` only; drift changes the rate of `now`,
/// `monotonicNow` and `sleep`. Readings stay continuous when the drift changes.
public final class SkewableClock: ClusterClock, Sendable {
    public let scale: TimeScale
    private let base: ScaledSystemClock
    private let controlFile: String
    private struct State {
        var skew = ClockSkew.none
        /// Drift accumulated before the current drift was set, and where the current one started.
        var wallDrift = 0.0, monoDrift = 0.0
        var wallAnchor: Double, monoAnchor: Double
        var lastModified: Date?
        var timer: DispatchSourceTimer? // set in init only
    }
    // Mutex, not Locked: DispatchSourceTimer is not Sendable.
    private let state: Mutex<State>

    public init(scale: TimeScale, controlFile: String, pollInterval: Double = 0.05) {
        self.scale = scale
        self.base = ScaledSystemClock(scale: scale)
        self.controlFile = controlFile
        state = Mutex(State(wallAnchor: base.now.seconds, monoAnchor: base.monotonicNow.seconds))
        reload()
        state.withLock { s in // made inside the closure so that it may belong to the state; nothing blocks here
            let t = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "clock.skew"))
            t.schedule(deadline: .now() + pollInterval, repeating: pollInterval)
            t.setEventHandler { [weak self] in self?.reload() }
            t.resume()
            s.timer = t
        }
    }

    deinit { state.withLock { $0.timer?.cancel() } }

    /// The skew in force.
    public var current: ClockSkew { state.withLock { $0.skew } }

    /// Re-reads the control file when it changed; a missing or unreadable file means no change.
    public func reload() {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: controlFile),
              let modified = attrs[.modificationDate] as? Date else { return }
        let changed = state.withLock { $0.lastModified != modified }
        guard changed, let data = FileManager.default.contents(atPath: controlFile),
              let next = try? JSONCodec.decode(ClockSkew.self, from: data),
              next.offsetMilliseconds.isFinite, next.driftPPM.isFinite, abs(next.driftPPM) < 1_000_000 else { return }
        let wall = base.now.seconds, mono = base.monotonicNow.seconds
        state.withLock { s in
            s.lastModified = modified
            let rate = s.skew.driftPPM / 1e6
            s.wallDrift += rate * (wall - s.wallAnchor)
            s.monoDrift += rate * (mono - s.monoAnchor)
            s.wallAnchor = wall; s.monoAnchor = mono
            s.skew = next
        }
    }

    public var now: LogicalInstant {
        let wall = base.now.seconds
        return state.withLock { s in
            LogicalInstant(seconds: wall + s.skew.offsetMilliseconds / 1000 + s.wallDrift + s.skew.driftPPM / 1e6 * (wall - s.wallAnchor))
        }
    }

    public var monotonicNow: LogicalInstant {
        let mono = base.monotonicNow.seconds
        return state.withLock { s in LogicalInstant(seconds: mono + s.monoDrift + s.skew.driftPPM / 1e6 * (mono - s.monoAnchor)) }
    }

    public func sleep(logicalSeconds: Double) async throws {
        let rate = 1 + current.driftPPM / 1e6
        try await base.sleep(logicalSeconds: logicalSeconds / rate)
    }
}
