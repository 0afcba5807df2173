import WACore

/// The master lease row as the DB holds it.
public struct LeaseRecord: Equatable, Sendable, Codable {
    public var holder: String?
    public var term: Int
    public var expiresAt: LogicalInstant
    public init(holder: String?, term: Int, expiresAt: LogicalInstant) { self.holder = holder; self.term = term; self.expiresAt = expiresAt }
    public static let vacant = LeaseRecord(holder: nil, term: 0, expiresAt: .init(seconds: 0))
}

/// The compare-and-set rules of the lease, shared by every store backend and by tests' fakes,
/// so "exactly one primary" rests on one definition.
public enum LeaseRules {
    /// Acquire: granted when the lease is expired or already ours; a new holder gets a new term.
    public static func acquire(_ row: LeaseRecord, by node: String, now: LogicalInstant, ttl: Double) -> LeaseRecord {
        if row.holder == node, row.expiresAt > now {
            return LeaseRecord(holder: node, term: row.term, expiresAt: now + ttl)
        }
        guard row.expiresAt <= now || row.holder == nil else { return row }
        return LeaseRecord(holder: node, term: row.term + 1, expiresAt: now + ttl)
    }

    /// Renew: only the holder, in its term, before expiry. An expired lease must be re-acquired
    /// (and gets a new term), because someone else may already have taken it.
    public static func renew(_ row: LeaseRecord, by node: String, term: Int, now: LogicalInstant, ttl: Double) -> LeaseRecord? {
        guard row.holder == node, row.term == term, row.expiresAt > now else { return nil }
        return LeaseRecord(holder: node, term: term, expiresAt: now + ttl)
    }
}

/// One master's view of the lease: decides when to try, renew or step down. The shell does
/// the DB calls and feeds the results back.
public struct MasterLeaseMachine: Sendable {
    public enum Role: Equatable, Sendable { case starting, secondary(primary: String?), primary(term: Int) }

    public enum Directive: Equatable, Sendable {
        case tryAcquire
        case renew(term: Int)
        /// The lease could not be confirmed in time: stop acting as primary at once.
        case stepDown(reason: String)
        case becamePrimary(term: Int)
        case becameSecondary(primary: String?)
    }

    public let nodeID: String
    public let timings: ClusterTimings
    public private(set) var role: Role = .starting
    /// Local, conservative expiry, by this node's monotonic clock: counted from the time the
    /// request was *sent*, so it is never later than the database's.
    public private(set) var localExpiry: LogicalInstant = .init(seconds: 0)
    private var lastAttempt: LogicalInstant?
    private var lastRenew: LogicalInstant?

    public init(nodeID: String, timings: ClusterTimings) { self.nodeID = nodeID; self.timings = timings }

    /// True only while this node holds the lease by its own clock: every primary action checks it.
    public func isPrimary(at now: LogicalInstant) -> Bool {
        if case .primary = role { return now < localExpiry }
        return false
    }

    public var term: Int? { if case .primary(let t) = role { t } else { nil } }

    public mutating func tick(now: LogicalInstant) -> [Directive] {
        switch role {
        case .primary:
            if now >= localExpiry {
                role = .secondary(primary: nil)
                return [.stepDown(reason: "lease expired at \(localExpiry) before it could be renewed"), .becameSecondary(primary: nil)]
            }
            return renewalDue(now: now)
        case .starting, .secondary:
            if lastAttempt == nil || now - lastAttempt! >= timings.masterLeaseRenewEvery {
                lastAttempt = now
                return [.tryAcquire]
            }
            return []
        }
    }

    /// The renewal alone, when one is due, for a loop of its own: a step's other database calls
    /// (the account, heartbeats, the shard map) must not hold it back when the database is slow.
    public mutating func renewalDue(now: LogicalInstant) -> [Directive] {
        guard case .primary(let term) = role, now < localExpiry else { return [] }
        guard now - (lastRenew ?? .init(seconds: 0)) >= timings.masterLeaseRenewEvery else { return [] }
        lastRenew = now
        return [.renew(term: term)]
    }

    /// The database's answer to an acquire attempt sent at `sentAt`, handled at `now` (both by
    /// this node's monotonic clock). The lease runs for `remaining` seconds by the database's
    /// clock from some instant after `sentAt`, so counting it from `sentAt` is never later than
    /// the database. A grant that lapsed before it could be handled is not announced (and is
    /// retried at once).
    public mutating func acquired(_ status: LeaseStatus, sentAt: LogicalInstant, now: LogicalInstant) -> [Directive] {
        let mine = status.lease.holder == nodeID && status.remaining > 0
        let validUntil = sentAt + min(status.remaining, timings.masterLeaseTTL)
        if mine, validUntil <= now {
            lastAttempt = nil
            if case .primary = role {
                role = .secondary(primary: nil)
                return [.stepDown(reason: "lease grant lapsed before it could be used"), .becameSecondary(primary: nil)]
            }
            return []
        }
        if mine {
            localExpiry = validUntil
            lastRenew = sentAt
            if case .primary(let t) = role, t == status.lease.term { return [] }
            role = .primary(term: status.lease.term)
            return [.becamePrimary(term: status.lease.term)]
        }
        let previous = role
        role = .secondary(primary: status.holder)
        if case .primary = previous {
            return [.stepDown(reason: "lease is held by \(status.holder ?? "nobody")"), .becameSecondary(primary: status.holder)]
        }
        if previous == role { return [] }
        return [.becameSecondary(primary: status.holder)]
    }

    /// The result of a renew sent at `sentAt`.
    public mutating func renewed(ok: Bool, sentAt: LogicalInstant) -> [Directive] {
        guard case .primary = role else { return [] }
        if ok {
            // Renewals may overlap (the renewal loop and a step): an older answer never shortens it.
            localExpiry = max(localExpiry, sentAt + timings.masterLeaseTTL)
            return []
        }
        role = .secondary(primary: nil)
        lastAttempt = nil
        return [.stepDown(reason: "lease renewal refused (another master holds it or it expired)"), .becameSecondary(primary: nil)]
    }

    /// A DB call failed: keep the lease while it is locally valid; `tick` steps down at expiry.
    public mutating func databaseFailed(now: LogicalInstant) -> [Directive] { [] }

    /// Graceful shutdown: forget the lease (the shell releases it in the DB).
    public mutating func resign() { role = .secondary(primary: nil); localExpiry = .init(seconds: 0) }
}
