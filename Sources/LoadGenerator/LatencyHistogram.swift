/// A log-linear latency histogram in the spirit of HdrHistogram, fixed at 1 µs resolution and a
/// 1 µs ... ~67 s range (values above are kept in the top bucket; `max` stays exact).
///
/// Values below 256 µs get one bucket per microsecond; above that every power of two is split into
/// 128 equal buckets, so a bucket is at most 1/128 (0.78%) of its values wide and a reported
/// percentile, the middle of its bucket, is within ±0.4% of a recorded value (plus the 1 µs grain).
/// Histograms of different connections merge by adding their counts.
public struct LatencyHistogram: Sendable, Equatable {
    /// Values below this many microseconds have buckets one microsecond wide.
    static let linearLimit: UInt64 = 256
    /// Buckets per power of two above `linearLimit`.
    static let subBuckets = 128
    /// Largest trackable value in microseconds (2^26 - 1 µs, about 67 s).
    static let highestTrackable: UInt64 = (1 << 26) - 1
    static let bucketCount = Int(linearLimit) + (26 - 8) * subBuckets

    private var counts: [Int]
    public private(set) var count: Int = 0
    private var sumNanoseconds: Double = 0
    private var minNanoseconds: Int64 = .max
    private var maxNanoseconds: Int64 = 0

    public init() {
        counts = [Int](repeating: 0, count: Self.bucketCount)
    }

    /// Records one value; negative values count as zero.
    public mutating func record(nanoseconds: Int64) {
        let ns = Swift.max(nanoseconds, 0)
        counts[Self.bucketIndex(microseconds: UInt64(ns / 1000))] &+= 1
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
        guard other.count > 0 else { return }
        for index in 0..<Self.bucketCount where other.counts[index] != 0 {
            counts[index] &+= other.counts[index]
        }
        count &+= other.count
        sumNanoseconds += other.sumNanoseconds
        minNanoseconds = Swift.min(minNanoseconds, other.minNanoseconds)
        maxNanoseconds = Swift.max(maxNanoseconds, other.maxNanoseconds)
    }

    /// The value at percentile `p`, given in percent (`percentile(99)` is p99, `percentile(50)` the
    /// median): the smallest recorded value with at least `p`% of the values at or below it, to
    /// the bucket precision. `.zero` when empty; `percentile(100)` is exactly `max`, `percentile(0)`
    /// exactly `min`.
    public func percentile(_ p: Double) -> Duration {
        guard count > 0 else { return .zero }
        let clamped = Swift.min(Swift.max(p, 0), 100)
        if clamped >= 100 { return .nanoseconds(maxNanoseconds) }
        if clamped <= 0 { return .nanoseconds(minNanoseconds) }
        let rank = Swift.max(1, Int((clamped / 100 * Double(count)).rounded(.up)))
        var seen = 0
        for index in 0..<Self.bucketCount {
            seen += counts[index]
            if seen >= rank {
                let (lower, width) = Self.bucketRange(index)
                // Middle of the bucket, in nanoseconds, kept within what was actually recorded.
                let middle = Int64((Double(lower) + Double(width) / 2) * 1000)
                return .nanoseconds(Swift.min(Swift.max(middle, minNanoseconds), maxNanoseconds))
            }
        }
        return .nanoseconds(maxNanoseconds)
    }

    public var mean: Duration {
        count == 0 ? .zero : .nanoseconds(Int64(sumNanoseconds / Double(count)))
    }

    public var max: Duration { .nanoseconds(maxNanoseconds) }

    public var min: Duration { count == 0 ? .zero : .nanoseconds(minNanoseconds) }

    // MARK: Buckets

    static func bucketIndex(microseconds value: UInt64) -> Int {
        let v = Swift.min(value, highestTrackable)
        if v < linearLimit { return Int(v) }
        let magnitude = 63 - v.leadingZeroBitCount          // floor(log2 v), 8...25
        let shift = magnitude - 7                           // v >> shift is in 128..<256
        return Int(linearLimit) + (shift - 1) * subBuckets + Int(v >> UInt64(shift)) - subBuckets
    }

    /// Lower bound and width, in microseconds, of bucket `index`.
    static func bucketRange(_ index: Int) -> (lower: UInt64, width: UInt64) {
        if index < Int(linearLimit) { return (UInt64(index), 1) }
        let offset = index - Int(linearLimit)
        let shift = offset / subBuckets + 1
        let sub = UInt64(offset % subBuckets + subBuckets)
        return (sub << UInt64(shift), 1 << UInt64(shift))
    }
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
