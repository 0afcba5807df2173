/// Who may try a password now: a pure machine (`now` in, a decision out) the webapp keeps one
/// of. Failures are counted per (username, source address) and per source address. The first
/// `freeFailures` of a key cost nothing; after that each attempt waits a back-off that doubles
/// per failure up to `maxBackoff`. Because the user key includes the source, an attacker
/// elsewhere cannot lock the admin out of the admin's own address, and no wait is ever longer
/// than `maxBackoff`: there is no permanent lockout. A success clears the pair and the source; entries
/// untouched for `forgetAfter` are dropped, and at most `capacity` are kept.
public struct LoginThrottle: Sendable {
    public struct Policy: Sendable {
        public var freeFailures = 5
        public var freeFailuresPerSource = 20
        public var baseBackoff = 1.0
        public var maxBackoff = 60.0
        public var forgetAfter = 900.0
        public var capacity = 10_000
        public init() {}
    }

    struct Entry: Sendable { var failures: Int; var lastFailure: Double }

    public let policy: Policy
    private var byUser: [String: Entry] = [:]
    private var bySource: [String: Entry] = [:]

    public init(policy: Policy = Policy()) { self.policy = policy }

    /// nil: go ahead and check the password; else the seconds to wait (429 / 1015, Retry-After).
    public func wait(user: String, source: String, now: Double) -> Double? {
        let waits = [delay(byUser[Self.key(user, source)], free: policy.freeFailures, now: now),
                     delay(bySource[source], free: policy.freeFailuresPerSource, now: now)].compactMap { $0 }
        return waits.max()
    }

    public mutating func failed(user: String, source: String, now: Double) {
        if byUser.count + bySource.count >= policy.capacity { forgetStale(now: now) }
        if byUser.count + bySource.count >= policy.capacity { evictOldest() }
        bump(&byUser[Self.key(user, source), default: Entry(failures: 0, lastFailure: now)], now)
        bump(&bySource[source, default: Entry(failures: 0, lastFailure: now)], now)
    }

    /// A right password clears the pair and its source (a legitimate client that mistyped
    /// is not held back; resetting a source this way takes a valid password).
    public mutating func succeeded(user: String, source: String) {
        byUser[Self.key(user, source)] = nil
        bySource[source] = nil
    }

    public var trackedKeys: Int { byUser.count + bySource.count }

    private func delay(_ e: Entry?, free: Int, now: Double) -> Double? {
        guard let e, now - e.lastFailure < policy.forgetAfter, e.failures >= free else { return nil }
        let exponent = min(e.failures - free, 30)
        let backoff = min(policy.maxBackoff, policy.baseBackoff * Double(1 << exponent))
        let remaining = e.lastFailure + backoff - now
        return remaining > 0 ? remaining : nil
    }

    private func bump(_ e: inout Entry, _ now: Double) {
        if now - e.lastFailure >= policy.forgetAfter { e.failures = 0 }
        e.failures += 1
        e.lastFailure = now
    }

    private mutating func forgetStale(now: Double) {
        byUser = byUser.filter { now - $0.value.lastFailure < policy.forgetAfter }
        bySource = bySource.filter { now - $0.value.lastFailure < policy.forgetAfter }
    }

    private mutating func evictOldest() {
        let keep = policy.capacity / 2
        byUser = Dictionary(uniqueKeysWithValues: byUser.sorted { $0.value.lastFailure > $1.value.lastFailure }.prefix(keep / 2).map { ($0.key, $0.value) })
        bySource = Dictionary(uniqueKeysWithValues: bySource.sorted { $0.value.lastFailure > $1.value.lastFailure }.prefix(keep / 2).map { ($0.key, $0.value) })
    }

    static func key(_ user: String, _ source: String) -> String { user.lowercased() + "\u{0}" + source }
}
