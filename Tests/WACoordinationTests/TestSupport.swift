import WACore

/// Helpers on WACore's seeded generator, so every random interleaving in these tests is
/// reproducible from its seed.
extension SplitMix64 {
    /// True with probability 1/n.
    mutating func oneIn(_ n: UInt64) -> Bool { next() % n == 0 }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// Shorthand for instants in tests: `t(12)` is logical second 12 after an arbitrary epoch.
func t(_ seconds: Double) -> LogicalInstant { LogicalInstant(seconds: 1_000 + seconds) }
