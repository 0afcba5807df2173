/// How many of something are admitted now, against a cap: connections per listener, logins
/// being hashed. One counter for every bound, so each refuses the same way.
public final class AdmissionCounter: Sendable {
    private let admitted = Locked(0)
    public let limit: Int
    public init(limit: Int) { self.limit = limit }

    public var count: Int { admitted.value }

    /// Admits one more unless the cap is reached; every true needs one `release`.
    public func tryAcquire() -> Bool {
        admitted.withLock { admitted in
            guard admitted < limit else { return false }
            admitted += 1
            return true
        }
    }

    public func release() { admitted.withLock { $0 -= 1 } }
}
