import Foundation

/// A point in *logical* time, in seconds. Logical time is real time divided by the time scale,
/// so every node of a cluster that runs with the same `WA_TIME_SCALE` agrees on it, and all
/// settings (heartbeat_interval, unhealthy_interval, ...) can be compared to it unconverted.
public struct LogicalInstant: Comparable, Hashable, Codable, Sendable, CustomStringConvertible {
    public var seconds: Double
    public init(seconds: Double) { self.seconds = seconds }
    public static func < (a: Self, b: Self) -> Bool { a.seconds < b.seconds }
    public static func + (a: Self, d: Double) -> Self { .init(seconds: a.seconds + d) }
    public static func - (a: Self, d: Double) -> Self { .init(seconds: a.seconds - d) }
    public static func - (a: Self, b: Self) -> Double { a.seconds - b.seconds }
    public var description: String { String(format: "%.3f", seconds) }
    public init(from decoder: Decoder) throws { seconds = try decoder.singleValueContainer().decode(Double.self) }
    public func encode(to encoder: Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(seconds) }
}

/// Multiplies every interval: real seconds = logical seconds × factor (0.1 runs ten times faster).
public struct TimeScale: Sendable, Equatable, CustomStringConvertible {
    public let factor: Double
    public static let realTime = TimeScale(unchecked: 1)
    init(unchecked factor: Double) { self.factor = factor }
    /// Validates the factor: a positive, finite number no larger than 100.
    public init(_ factor: Double) throws {
        guard factor.isFinite, factor > 0, factor <= 100 else {
            throw ConfigError(.invalidValue, variable: "WA_TIME_SCALE",
                              detail: "must be a number in (0, 100], got \(factor)")
        }
        self.factor = factor
    }
    public func real(_ logicalSeconds: Double) -> Double { logicalSeconds * factor }
    public func logical(_ realSeconds: Double) -> Double { realSeconds / factor }
    public var description: String { "\(factor)" }

    /// `WA_TIME_SCALE`, the one place it is read: every node, the gateway and the runner agree.
    public static func from(_ env: Environment) throws -> TimeScale {
        guard let text = env["WA_TIME_SCALE"] else { return .realTime }
        guard let f = Double(text) else {
            throw ConfigError(.invalidValue, variable: "WA_TIME_SCALE", detail: "expected a number such as 0.1, got '\(text)'")
        }
        return try TimeScale(f)
    }
}

/// The one clock every node shell reads. State machines never read it themselves: shells pass
/// `now` in, so machines are tested with plain numbers and shells with `ManualClock`.
public protocol ClusterClock: Sendable {
    var scale: TimeScale { get }
    /// Current logical time: what a node writes to the database and compares across nodes.
    var now: LogicalInstant { get }
    /// Logical time from a monotonic source, for deadlines a node keeps to itself (how long it
    /// may still act on a lease): a step of the wall clock, or a skew, never moves it.
    var monotonicNow: LogicalInstant { get }
    /// Suspends for a logical duration (scaled to real time by the clock).
    func sleep(logicalSeconds: Double) async throws
}

extension ClusterClock {
    public func sleep(until deadline: LogicalInstant) async throws {
        let remaining = deadline - now
        if remaining > 0 { try await sleep(logicalSeconds: remaining) }
    }
}

/// Wall-clock based logical time: realtime / scale. Realtime rather than monotonic because
/// instants are written to the shared DB and compared by other processes.
public struct ScaledSystemClock: ClusterClock {
    public let scale: TimeScale
    public init(scale: TimeScale) { self.scale = scale }
    public var now: LogicalInstant {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let real = Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        return LogicalInstant(seconds: scale.logical(real))
    }
    public var monotonicNow: LogicalInstant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return LogicalInstant(seconds: scale.logical(Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9))
    }
    public func sleep(logicalSeconds: Double) async throws {
        let real = max(0, scale.real(logicalSeconds))
        try await Task.sleep(for: .nanoseconds(Int64(real * 1e9)), clock: ContinuousClock())
    }
}
