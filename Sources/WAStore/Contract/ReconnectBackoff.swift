import Foundation

/// How long a client waits before dialling a database that could not be reached again: 50 ms,
/// doubling to a cap of 1 s. Calls made meanwhile fail at once instead of piling up dials.
/// Shared by every client of the contract (the db node's, PostgreSQL's pool); not thread-safe:
/// its owner guards it.
public struct ReconnectBackoff: Sendable {
    public static let first = 0.05, cap = 1.0
    public private(set) var failures = 0
    private var retryAt = 0.0
    public init() {}

    /// The time left before the next dial may be tried, or nil when it may be tried now.
    public func wait(at now: Double = MonotonicTime.seconds()) -> Double? {
        failures > 0 && now < retryAt ? retryAt - now : nil
    }

    public mutating func failed(at now: Double = MonotonicTime.seconds()) {
        failures += 1
        retryAt = now + min(Self.cap, Self.first * pow(2, Double(failures - 1)))
    }

    public mutating func succeeded() { failures = 0; retryAt = 0 }
}

/// Real seconds on the monotonic clock: for a client's own waits (deadlines, backoffs), which a
/// step of the wall clock must never shorten or stretch.
public enum MonotonicTime {
    public static func seconds() -> Double {
        var ts = timespec(); clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
