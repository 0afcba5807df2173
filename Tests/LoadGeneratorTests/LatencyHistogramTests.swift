import Testing
@testable import LoadGenerator

@Suite struct LatencyHistogramTests {
    private func milliseconds(_ d: Duration) -> Double { Double(d.nanosecondsClamped) / 1e6 }

    @Test func percentilesOfOneToThousandMilliseconds() {
        var histogram = LatencyHistogram()
        for ms in 1...1000 { histogram.record(nanoseconds: Int64(ms) * 1_000_000) }
        #expect(histogram.count == 1000)
        #expect(abs(milliseconds(histogram.percentile(50)) - 500) <= 5)
        #expect(abs(milliseconds(histogram.percentile(99)) - 990) <= 9.9)
        #expect(abs(milliseconds(histogram.percentile(90)) - 900) <= 9)
        #expect(histogram.percentile(100) == .milliseconds(1000))
        #expect(histogram.max == .milliseconds(1000))
        #expect(histogram.min == .milliseconds(1))
        #expect(histogram.percentile(0) == .milliseconds(1))
        #expect(abs(milliseconds(histogram.mean) - 500.5) < 0.001)
    }

    @Test func everyValueIsReportedWithinItsBucketPrecision() {
        // Each value alone: its p50 must be within 0.1% (+1 µs grain) of it, over the whole range.
        var value: Int64 = 1_000
        while value < 60_000_000_000 {
            var histogram = LatencyHistogram()
            histogram.record(nanoseconds: value)
            histogram.record(nanoseconds: value)
            histogram.record(nanoseconds: 0)
            histogram.record(nanoseconds: 61_000_000_000)
            let reported = Double(histogram.percentile(50).nanosecondsClamped)
            #expect(abs(reported - Double(value)) <= Double(value) * 0.001 + 1_000, "value \(value) ns")
            value = value * 17 / 16 + 1
        }
    }

    @Test func pacedRequestsCarryWhenTheyWereDue() {
        // Coordinated omission: a request due at t=10 that a stalled connection wrote at t=500
        // and that was answered at t=501 waited 491, not 1.
        var ring = PendingRing(capacity: 2)
        ring.append(7, intendedAt: 10)
        ring.append(8)
        ring.stamp(last: 2, at: 500)
        let paced = ring.popFirst()
        #expect(paced?.sequence == 7 && paced?.sentAt == 500 && paced?.intendedAt == 10)
        let unpaced = ring.popFirst()
        #expect(unpaced?.sequence == 8 && unpaced?.intendedAt == 0)
    }

    @Test func mergingEqualsRecordingIntoOne() {
        var whole = LatencyHistogram()
        var parts = [LatencyHistogram](repeating: LatencyHistogram(), count: 3)
        var generator = SplitMix(seed: 42)
        for index in 0..<10_000 {
            let value = Int64(generator.next() % 2_000_000_000)
            whole.record(nanoseconds: value)
            parts[index % 3].record(nanoseconds: value)
        }
        var merged = LatencyHistogram()
        for part in parts { merged.merge(part) }
        #expect(merged.count == whole.count)
        #expect(merged.max == whole.max)
        #expect(merged.min == whole.min)
        for p in [1.0, 25, 50, 90, 99, 99.9, 100] {
            #expect(merged.percentile(p) == whole.percentile(p))
        }
        #expect(abs(Double(merged.mean.nanosecondsClamped - whole.mean.nanosecondsClamped)) <= 1)
    }

    @Test func emptyHistogram() {
        let histogram = LatencyHistogram()
        #expect(histogram.count == 0)
        #expect(histogram.percentile(99) == .zero)
        #expect(histogram.mean == .zero)
        #expect(histogram.max == .zero)
        #expect(histogram.min == .zero)
    }
}

struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct LoadResultTests {
    @Test func describesItselfOnOneLine() {
        var latency = LatencyHistogram()
        latency.record(nanoseconds: 1_500_000)
        let result = LoadResult(sent: 3, completed: 2, byStatus: [201: 1, 500: 1], errors: 1,
                                errorsByKind: [.timeout: 1], connectFailures: 0, elapsed: .seconds(1),
                                throughput: 1, measuredAccepted: 1, latency: latency, accepted: [])
        let line = result.description
        #expect(line.hasPrefix("sent=3 completed=2 errors=1[timeout:1] connectFailures=0 status=[201:1,500:1]"))
        #expect(line.contains("throughput=1/s"))
        #expect(line.contains("max=1.5 "))
        #expect(!line.contains("\n"))
    }
}
