import WACore
@testable import WACoordination

/// Most tests feed a DB answer back at the instant the request was sent, for the request in
/// flight; these spell that out once. Tests of late or stale answers use the full forms.
extension ShardOwnerMachine {
    mutating func leaseAcquired(until: LogicalInstant?, sentAt: LogicalInstant) -> [Directive] {
        guard case .acquiring(let a) = state else { return [] }
        return leaseAcquired(shard: a.shard, epoch: a.epoch, until: until, sentAt: sentAt, now: sentAt)
    }

    /// The answer as the database gives it when its clock reads `sentAt`: granted until `until`,
    /// or refused (nil).
    mutating func leaseAcquired(shard: Int, epoch: Int, until: LogicalInstant?, sentAt: LogicalInstant, now: LogicalInstant) -> [Directive] {
        leaseAcquired(shard: shard, epoch: epoch, answer: until.map { .granted(validFor: $0 - sentAt) } ?? .refused, sentAt: sentAt, now: now)
    }

    mutating func leaseRenewed(ok: Bool?, sentAt: LogicalInstant) -> [Directive] {
        guard case .serving(let a, _, _) = state else { return [] }
        return leaseRenewed(shard: a.shard, epoch: a.epoch, ok: ok, sentAt: sentAt)
    }
}

extension MasterLeaseMachine {
    mutating func acquired(_ row: LeaseRecord, sentAt: LogicalInstant) -> [Directive] {
        acquired(row, sentAt: sentAt, now: sentAt)
    }

    /// The row as the database answers it when its clock reads `sentAt`.
    mutating func acquired(_ row: LeaseRecord, sentAt: LogicalInstant, now: LogicalInstant) -> [Directive] {
        acquired(LeaseStatus(lease: row, remaining: row.expiresAt - sentAt), sentAt: sentAt, now: now)
    }
}
