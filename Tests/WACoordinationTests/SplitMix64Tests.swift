import WACore
import Testing

@Suite("SplitMix64 (test support)")
struct SplitMix64Tests {
    @Test func matchesTheReferenceSequence() {
        // First outputs of the reference splitmix64.c for seed 0.
        var g = SplitMix64(seed: 0)
        #expect(g.next() == 0xe220_a839_7b1d_cdaf)
        #expect(g.next() == 0x6e78_9e6a_a1b9_65f4)
        #expect(g.next() == 0x06c4_5d18_8009_454f)
    }

    @Test func sameSeedSameSequence() {
        var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42)
        for _ in 0..<100 { #expect(a.next() == b.next()) }
    }
}
