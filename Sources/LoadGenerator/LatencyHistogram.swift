import Histogram

/// Latency of the answers of one run: HdrHistogram (hdrhistogram-swift) at microsecond grain and
/// three significant digits, from 1 µs to 120 s (values above count as 120 s; `max` stays exact).
/// Under a target rate the connections record each latency from when the request was due, not
/// from when a stalled connection got to send it (coordinated-omission correction, in
/// `PendingRing`). Histograms of different connections merge by adding their counts.
public struct LatencyHistogram: Sendable, Equatable {
    static let highestTrackableMicroseconds: UInt64 = 120_000_000

    private var histogram = Histogram<UInt64>(lowestDiscernibleValue: 1, highestTrackableValue: highestTrackableMicroseconds,
                                              numberOfSignificantValueDigits: .three)
    /// Answers recorded.
    public private(set) var count: Int = 0
    private var sumNanoseconds: Double = 0
    private var minNanoseconds: Int64 = .max
    private var maxNanoseconds: Int64 = 0

    public init() {}

    public static func == (a: Self, b: Self) -> Bool {
        a.count == b.count && a.sumNanoseconds == b.sumNanoseconds && a.minNanoseconds == b.minNanoseconds
            && a.maxNanoseconds == b.maxNanoseconds && a.histogram.totalCount == b.histogram.totalCount
            && a.histogram.recordedValues().map(\.count) == b.histogram.recordedValues().map(\.count)
    }

    /// Records one value; negative values count as zero.
    public mutating func record(nanoseconds: Int64) {
        let ns = Swift.max(nanoseconds, 0)
        _ = histogram.record(Swift.min(UInt64(ns / 1000), Self.highestTrackableMicroseconds))
        count &+= 1
        sumNanoseconds += Double(ns)
        if ns < minNanoseconds { minNanoseconds = ns }
        if ns > maxNanoseconds { maxNanoseconds = ns }
    }

    public mutating func record(_ duration: Duration) {
        record(nanoseconds: duration.nanosecondsClamped)
    }

    /// Adds every value recorded in `other`.
    public mutating func merge(_ other: LatencyHistogram) {
        guard other.histogram.totalCount > 0 else { return }
        histogram.add(other.histogram)
        count &+= other.count
        sumNanoseconds += other.sumNanoseconds
        minNanoseconds = Swift.min(minNanoseconds, other.minNanoseconds)
        maxNanoseconds = Swift.max(maxNanoseconds, other.maxNanoseconds)
    }

    /// The value at percentile `p`, given in percent (`percentile(99)` is p99): HdrHistogram's
    /// value at that percentile (to three significant digits), kept
    /// within what was recorded. `.zero` when empty; `percentile(100)` is exactly `max`,
    /// `percentile(0)` exactly `min`.
    public func percentile(_ p: Double) -> Duration {
        guard count > 0 else { return .zero }
        let clamped = Swift.min(Swift.max(p, 0), 100)
        if clamped >= 100 { return .nanoseconds(maxNanoseconds) }
        if clamped <= 0 { return .nanoseconds(minNanoseconds) }
        let micros = histogram.valueAtPercentile(clamped)
        let middle = Int64(histogram.medianEquivalentForValue(micros)) * 1000
        return .nanoseconds(Swift.min(Swift.max(middle, minNanoseconds), maxNanoseconds))
    }

    /// The mean of the recorded answers, exact.
    public var mean: Duration {
        count == 0 ? .zero : .nanoseconds(Int64(sumNanoseconds / Double(count)))
    }

    public var max: Duration { .nanoseconds(maxNanoseconds) }

    public var min: Duration { count == 0 ? .zero : .nanoseconds(minNanoseconds) }
}

extension Duration {
    /// Whole nanoseconds, saturating at `Int64` bounds.
    var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (total, overflow2) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000)
        if overflow2 { return seconds < 0 ? .min : .max }
        return total
    }

    /// Seconds as a floating-point number.
    var secondsDouble: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
