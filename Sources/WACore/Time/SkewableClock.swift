import Foundation

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
        let data = try JSONEncoder().encode(self)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

/// The scaled system clock, skewed by a control file only the chaos runner writes
/// (`WA_CLOCK_CONTROL`). Skew needs no privilege: it moves the clock a node was handed, not the
/// machine's. A wall-clock step moves `now` only; drift changes the rate of `now`,
/// `monotonicNow` and `sleep`. Readings stay continuous when the drift changes.
public final class SkewableClock: ClusterClock, @unchecked Sendable {
    // @unchecked: `skew`, the drifts, the anchors and `lastModified` are guarded by `lock`; `timer` is set in init only.
    public let scale: TimeScale
    private let base: ScaledSystemClock
    private let controlFile: String
    private let lock = NSLock()
    private var skew = ClockSkew.none
    /// Drift accumulated before the current drift was set, and where the current one started.
    private var wallDrift = 0.0, monoDrift = 0.0
    private var wallAnchor: Double, monoAnchor: Double
    private var lastModified: Date?
    private var timer: DispatchSourceTimer?

    public init(scale: TimeScale, controlFile: String, pollInterval: Double = 0.05) {
        self.scale = scale
        self.base = ScaledSystemClock(scale: scale)
        self.controlFile = controlFile
        wallAnchor = base.now.seconds
        monoAnchor = base.monotonicNow.seconds
        reload()
        let t = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "clock.skew"))
        t.schedule(deadline: .now() + pollInterval, repeating: pollInterval)
        t.setEventHandler { [weak self] in self?.reload() }
        t.resume()
        timer = t
    }

    deinit { timer?.cancel() }

    /// The skew in force.
    public var current: ClockSkew { lock.withLock { skew } }

    /// Re-reads the control file when it changed; a missing or unreadable file means no change.
    public func reload() {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: controlFile),
              let modified = attrs[.modificationDate] as? Date else { return }
        let changed = lock.withLock { lastModified != modified }
        guard changed, let data = FileManager.default.contents(atPath: controlFile),
              let next = try? JSONDecoder().decode(ClockSkew.self, from: data),
              next.offsetMilliseconds.isFinite, next.driftPPM.isFinite, abs(next.driftPPM) < 1_000_000 else { return }
        let wall = base.now.seconds, mono = base.monotonicNow.seconds
        lock.withLock {
            lastModified = modified
            let rate = skew.driftPPM / 1e6
            wallDrift += rate * (wall - wallAnchor)
            monoDrift += rate * (mono - monoAnchor)
            wallAnchor = wall; monoAnchor = mono
            skew = next
        }
    }

    public var now: LogicalInstant {
        let wall = base.now.seconds
        return lock.withLock {
            LogicalInstant(seconds: wall + skew.offsetMilliseconds / 1000 + wallDrift + skew.driftPPM / 1e6 * (wall - wallAnchor))
        }
    }

    public var monotonicNow: LogicalInstant {
        let mono = base.monotonicNow.seconds
        return lock.withLock { LogicalInstant(seconds: mono + monoDrift + skew.driftPPM / 1e6 * (mono - monoAnchor)) }
    }

    public func sleep(logicalSeconds: Double) async throws {
        let rate = 1 + current.driftPPM / 1e6
        try await base.sleep(logicalSeconds: logicalSeconds / rate)
    }
}
