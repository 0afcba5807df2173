import Foundation

/// How many of something are admitted now, against a cap: connections per listener, logins
/// being hashed. One counter for every bound, so each refuses the same way.
public final class AdmissionCounter: @unchecked Sendable {
    // @unchecked: `admitted` is guarded by `lock`.
    private let lock = NSLock()
    private var admitted = 0
    public let limit: Int
    public init(limit: Int) { self.limit = limit }

    public var count: Int { lock.withLock { admitted } }

    /// Admits one more unless the cap is reached; every true needs one `release`.
    public func tryAcquire() -> Bool {
        lock.withLock {
            guard admitted < limit else { return false }
            admitted += 1
            return true
        }
    }

    public func release() { lock.withLock { admitted -= 1 } }
}
