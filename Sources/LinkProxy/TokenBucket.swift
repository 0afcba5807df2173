import NIOCore

/// Paces bytes to a fixed rate. It holds at most 50 ms worth of tokens, so a link that was idle
/// cannot burst far above its rate, and a paced direction wakes up about 20 times a second.
struct TokenBucket {
    let bytesPerSecond: Int
    let capacity: Int
    private var tokens: Double
    private var lastRefill: NIODeadline

    init(bytesPerSecond: Int, now: NIODeadline) {
        self.bytesPerSecond = bytesPerSecond
        self.capacity = max(1, bytesPerSecond / 20)
        self.tokens = Double(capacity)
        self.lastRefill = now
    }

    /// Whole bytes that may be sent at `now`.
    mutating func available(at now: NIODeadline) -> Int {
        let elapsedNanoseconds = max(0, (now - lastRefill).nanoseconds)
        tokens = min(Double(capacity), tokens + Double(elapsedNanoseconds) * Double(bytesPerSecond) / 1e9)
        lastRefill = now
        return Int(tokens)
    }

    mutating func consume(_ bytes: Int) {
        tokens -= Double(bytes)
    }

    /// How long until `bytes` can be sent (capped at the bucket's capacity, so it never waits forever).
    func timeUntilAvailable(_ bytes: Int) -> TimeAmount {
        let missing = Double(min(bytes, capacity)) - tokens
        guard missing > 0 else { return .zero }
        return .nanoseconds(Int64((missing * 1e9 / Double(bytesPerSecond)).rounded(.up)))
    }
}
