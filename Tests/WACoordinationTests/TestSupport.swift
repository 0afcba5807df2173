import WACore

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, seedable generator, so every random
/// interleaving in these tests is reproducible from its seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
    /// True with probability 1/n.
    mutating func oneIn(_ n: UInt64) -> Bool { next() % n == 0 }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Shorthand for instants in tests: `t(12)` is logical second 12 after an arbitrary epoch.
func t(_ seconds: Double) -> LogicalInstant { LogicalInstant(seconds: 1_000 + seconds) }
