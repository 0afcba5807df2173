import WACore

/// A coreapp's side of fencing. It may hold a gateway connection for a shard only while it
/// holds that shard's lease in the DB, for the epoch the master assigned; it drops the
/// connection before the lease could lapse, and never (re)connects without a fresh lease.
/// A successor waits for the previous lease to end (`fenceUntil`), so two owners never
/// overlap — also when the old one was paused (SIGSTOP) and wakes up later.
public struct ShardOwnerMachine: Sendable {
    /// The shard-map row naming this node, as last read from the DB.
    public struct Assignment: Equatable, Sendable {
        public var shard: Int
        public var epoch: Int
        public var fenceUntil: LogicalInstant
        public init(shard: Int, epoch: Int, fenceUntil: LogicalInstant) { self.shard = shard; self.epoch = epoch; self.fenceUntil = fenceUntil }
    }

    public enum Connection: Equatable, Sendable { case down, connecting, connected }

    public enum State: Equatable, Sendable {
        case standby
        case fenced(Assignment)
        case acquiring(Assignment)
        case serving(Assignment, leaseUntil: LogicalInstant, connection: Connection)
    }

    public enum Directive: Equatable, Sendable {
        case acquireLease(shard: Int, epoch: Int)
        case renewLease(shard: Int, epoch: Int)
        case connect(shard: Int, epoch: Int)
        case disconnect(shard: Int, reason: String)
        /// Role changes the shell logs as events.
        case promoted(shard: Int, epoch: Int)
        case demoted(shard: Int, reason: String)
    }

    public let timings: ClusterTimings
    public private(set) var state: State = .standby
    private var lastRenewSent: LogicalInstant?
    private var reconnectAfter: LogicalInstant?
    /// The assignment given up on the master's command: the database may still name this node
    /// for it until the release is written (or a step read the map just before), and that word
    /// must not lead it back to the shard.
    public private(set) var released: (shard: Int, epoch: Int)?

    public init(timings: ClusterTimings) { self.timings = timings }

    public var servingShard: Int? {
        if case .serving(let a, _, _) = state { return a.shard }
        return nil
    }
    public var connection: Connection {
        if case .serving(_, _, let c) = state { return c }
        return .down
    }
    /// True while it may talk to the gateway for its shard, by its own clock.
    public func mayServe(at now: LogicalInstant) -> Bool {
        if case .serving(_, let until, _) = state { return now < until - timings.shardLeaseSafetyMargin }
        return false
    }

    /// The DB's current word on this node's assignment (nil: it owns nothing).
    public mutating func observe(_ assignment: Assignment?, now: LogicalInstant) -> [Directive] {
        var out: [Directive] = []
        let assignment = assignment.flatMap { a in released.map { $0.shard == a.shard && $0.epoch == a.epoch } == true ? nil : a }
        let current = currentAssignment
        if let current, current.shard != assignment?.shard || current.epoch != assignment?.epoch {
            out += dropShard(current, reason: assignment == nil ? "the shard map no longer names this node" : "reassigned to shard \(assignment!.shard) epoch \(assignment!.epoch)")
        }
        guard let assignment else { return out }
        switch state {
        case .standby:
            state = .fenced(assignment)
            out += tick(now: now)
        case .fenced:
            state = .fenced(assignment)
            out += tick(now: now)
        case .acquiring, .serving:
            break
        }
        return out
    }

    /// The DB could not be read: keep serving while the lease is valid; `tick` enforces expiry.
    public mutating func databaseUnavailable(now: LogicalInstant) -> [Directive] { tick(now: now) }

    public mutating func tick(now: LogicalInstant) -> [Directive] {
        switch state {
        case .standby, .acquiring:
            return []
        case .fenced(let a):
            guard now >= a.fenceUntil else { return [] }
            state = .acquiring(a)
            return [.acquireLease(shard: a.shard, epoch: a.epoch)]
        case .serving(let a, let until, let conn):
            if now >= until - timings.shardLeaseSafetyMargin {
                // Cannot confirm ownership in time: let go before a successor may start.
                state = .fenced(Assignment(shard: a.shard, epoch: a.epoch, fenceUntil: until))
                var out: [Directive] = []
                if conn != .down { out.append(.disconnect(shard: a.shard, reason: "shard lease could not be renewed before expiry")) }
                out.append(.demoted(shard: a.shard, reason: "shard lease expired"))
                return out
            }
            var out = renewalDue(now: now)
            if conn == .down, let after = reconnectAfter, now >= after {
                reconnectAfter = nil
                state = .serving(a, leaseUntil: until, connection: .connecting)
                out.append(.connect(shard: a.shard, epoch: a.epoch))
            }
            return out
        }
    }

    /// Only the expiry rule of `tick`: a watchdog calls it often, independent of DB latency,
    /// so an owner whose DB calls hang still lets go of the gateway in time.
    /// The renewal alone, when one is due, for a loop of its own: the shell's step reads the
    /// account and the shard map first, and under load those reads must not hold the renewal back.
    public mutating func renewalDue(now: LogicalInstant) -> [Directive] {
        guard case .serving(let a, _, _) = state else { return [] }
        guard lastRenewSent == nil || now - lastRenewSent! >= timings.shardLeaseRenewEvery else { return [] }
        lastRenewSent = now
        return [.renewLease(shard: a.shard, epoch: a.epoch)]
    }

    public mutating func enforceExpiry(now: LogicalInstant) -> [Directive] {
        guard case .serving(_, let until, _) = state, now >= until - timings.shardLeaseSafetyMargin else { return [] }
        return tick(now: now)
    }

    /// The database's answer to an acquire sent at `sentAt` (this node's monotonic clock).
    /// `shard`/`epoch` name the request this answers (a stale answer is ignored); `now` is when
    /// the answer is handled: a grant that already lapsed (the node was paused, the DB was
    /// slow) must not lead to a connection.
    public mutating func leaseAcquired(shard: Int, epoch: Int, answer: ShardLeaseAnswer, sentAt: LogicalInstant, now: LogicalInstant) -> [Directive] {
        guard case .acquiring(let a) = state, a.shard == shard, a.epoch == epoch else { return [] }
        switch answer {
        case .refused:
            state = .standby
            return []
        case .fenced(let remaining):
            // The previous owner's lease may still run: wait it out and ask again.
            state = .fenced(Assignment(shard: a.shard, epoch: a.epoch, fenceUntil: now + max(0, remaining)))
            return []
        case .granted(let validFor):
            let localUntil = sentAt + min(validFor, timings.shardLeaseTTL)
            guard now < localUntil - timings.shardLeaseSafetyMargin else {
                state = .fenced(a)
                return []
            }
            lastRenewSent = sentAt
            state = .serving(a, leaseUntil: localUntil, connection: .connecting)
            return [.promoted(shard: a.shard, epoch: a.epoch), .connect(shard: a.shard, epoch: a.epoch)]
        }
    }

    /// Result of a renew sent at `sentAt`: ok, refused (no longer owner), or the DB failed (nil).
    public mutating func leaseRenewed(shard: Int, epoch: Int, ok: Bool?, sentAt: LogicalInstant) -> [Directive] {
        guard case .serving(let a, let until, let conn) = state, a.shard == shard, a.epoch == epoch else { return [] }
        switch ok {
        case true?:
            state = .serving(a, leaseUntil: max(until, sentAt + timings.shardLeaseTTL), connection: conn)
            return []
        case false?:
            return dropShard(a, reason: "shard lease renewal refused: no longer the owner of epoch \(a.epoch)")
        case nil:
            return []
        }
    }

    public mutating func gatewayConnected(now: LogicalInstant) -> [Directive] {
        guard case .serving(let a, let until, _) = state else {
            return [.disconnect(shard: -1, reason: "connected while not serving")]
        }
        guard mayServe(at: now) else {
            return [.disconnect(shard: a.shard, reason: "lease ended while connecting")]
        }
        state = .serving(a, leaseUntil: until, connection: .connected)
        return []
    }

    /// The gateway dropped the connection (or refused it): retry after a pause, lease permitting.
    public mutating func gatewayDisconnected(now: LogicalInstant, retryAfter: Double) -> [Directive] {
        guard case .serving(let a, let until, _) = state else { return [] }
        state = .serving(a, leaseUntil: until, connection: .down)
        reconnectAfter = now + retryAfter
        return []
    }

    /// A planned handover: give up `shard` of `epoch` now (disconnect first; the shell then
    /// frees it in the DB). Nil when this node does not hold that assignment.
    public mutating func release(shard: Int, epoch: Int) -> [Directive]? {
        guard let a = currentAssignment, a.shard == shard, a.epoch == epoch else { return nil }
        released = (shard, epoch)
        return dropShard(a, reason: "planned handover: released on the primary master's request")
    }

    /// The release could not be written: the DB still names this node, so its word counts again.
    public mutating func releaseFailed() { released = nil }

    /// Graceful stop: disconnect; the shell then releases the shard in the DB.
    public mutating func resign() -> [Directive] {
        guard let a = currentAssignment else { return [] }
        return dropShard(a, reason: "node is shutting down")
    }

    private var currentAssignment: Assignment? {
        switch state {
        case .standby: nil
        case .fenced(let a), .acquiring(let a), .serving(let a, _, _): a
        }
    }

    private mutating func dropShard(_ a: Assignment, reason: String) -> [Directive] {
        let wasServing: Bool
        if case .serving = state { wasServing = true } else { wasServing = false }
        state = .standby
        lastRenewSent = nil
        reconnectAfter = nil
        return wasServing ? [.disconnect(shard: a.shard, reason: reason), .demoted(shard: a.shard, reason: reason)] : []
    }
}
