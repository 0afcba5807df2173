/// A tiny deterministic generator (the SplitMix64 algorithm). Chaos runs must be reproducible from
/// a seed, so jitter never comes from the system generator.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    /// An independent stream for one purpose (one connection and direction), so that the numbers a
    /// connection sees do not depend on how other connections interleave with it.
    init(seed: UInt64, stream: UInt64) {
        var mixer = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        self.init(seed: mixer.next())
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform integer in `-spread...spread`. Written out here rather than using
    /// `Int.random(in:using:)`, whose algorithm the standard library may change between toolchains.
    mutating func symmetricOffset(spread: Int) -> Int {
        guard spread > 0 else { return 0 }
        let width = UInt64(spread) * 2 + 1
        return Int(next() % width) - spread
    }
}
