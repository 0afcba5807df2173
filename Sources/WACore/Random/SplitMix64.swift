/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator whose output is fixed forever,
/// so a seed printed with a failure reproduces every random pick on any machine and toolchain.
public struct SplitMix64: RandomNumberGenerator, Equatable, Sendable {
    /// The generator's whole state; advances by the golden-ratio increment per draw.
    public private(set) var state: UInt64

    /// Creates a generator from a seed.
    public init(seed: UInt64) {
        state = seed
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }

    /// An independent stream for one purpose (one connection and direction, say), so the
    /// numbers one user sees do not depend on how other users interleave with it.
    public init(seed: UInt64, stream: UInt64) {
        var mixer = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        self.init(seed: mixer.next())
    }

    /// A uniform integer in `-spread...spread` (our own mapping, stable across toolchains).
    public mutating func symmetricOffset(spread: Int) -> Int {
        guard spread > 0 else { return 0 }
        return Int(next() % (UInt64(spread) * 2 + 1)) - spread
    }

    /// An index in `0..<count`, by multiply-high: our own mapping, because the standard library's
    /// `next(upperBound:)` algorithm is not promised to stay the same across releases.
    public mutating func nextIndex(below count: Int) -> Int {
        precondition(count > 0, "nextIndex(below:) needs a positive count")
        return Int(next().multipliedFullWidth(by: UInt64(count)).high)
    }
}
