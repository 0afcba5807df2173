import Testing
import WACore
@testable import WACoordination

@Suite("LeaseRules")
struct LeaseRulesTests {
    @Test func aVacantLeaseGoesToTheFirstAskerWithTermOne() {
        let row = LeaseRules.acquire(.vacant, by: "m1", now: t(0), ttl: 10)
        #expect(row == LeaseRecord(holder: "m1", term: 1, expiresAt: t(10)))
    }

    @Test func theHolderReacquiresInItsOwnTerm() {
        let held = LeaseRecord(holder: "m1", term: 4, expiresAt: t(10))
        #expect(LeaseRules.acquire(held, by: "m1", now: t(5), ttl: 10) == LeaseRecord(holder: "m1", term: 4, expiresAt: t(15)))
    }

    @Test func anotherNodeCannotTakeAnUnexpiredLease() {
        let held = LeaseRecord(holder: "m1", term: 4, expiresAt: t(10))
        #expect(LeaseRules.acquire(held, by: "m2", now: t(9.999), ttl: 10) == held)
    }

    @Test func anExpiredLeaseGoesToTheNextAskerWithTheNextTerm() {
        let held = LeaseRecord(holder: "m1", term: 4, expiresAt: t(10))
        // Expiry is inclusive: at exactly expiresAt the lease is free.
        #expect(LeaseRules.acquire(held, by: "m2", now: t(10), ttl: 10) == LeaseRecord(holder: "m2", term: 5, expiresAt: t(20)))
        // The old holder coming back after expiry also gets a new term.
        #expect(LeaseRules.acquire(held, by: "m1", now: t(11), ttl: 10) == LeaseRecord(holder: "m1", term: 5, expiresAt: t(21)))
    }

    @Test func renewOnlyByTheHolderInItsTermBeforeExpiry() {
        let held = LeaseRecord(holder: "m1", term: 4, expiresAt: t(10))
        #expect(LeaseRules.renew(held, by: "m1", term: 4, now: t(9), ttl: 10) == LeaseRecord(holder: "m1", term: 4, expiresAt: t(19)))
        #expect(LeaseRules.renew(held, by: "m2", term: 4, now: t(9), ttl: 10) == nil)
        #expect(LeaseRules.renew(held, by: "m1", term: 3, now: t(9), ttl: 10) == nil)
        #expect(LeaseRules.renew(held, by: "m1", term: 4, now: t(10), ttl: 10) == nil)
        #expect(LeaseRules.renew(.vacant, by: "m1", term: 0, now: t(0), ttl: 10) == nil)
    }
}

@Suite("MasterLeaseMachine")
struct MasterLeaseMachineTests {
    let timings = ClusterTimings.standard   // TTL 10, renew every 2

    @Test func firstAcquireWinsAndTheSecondIsSecondary() {
        var row = LeaseRecord.vacant
        var m1 = MasterLeaseMachine(nodeID: "m1", timings: timings)
        var m2 = MasterLeaseMachine(nodeID: "m2", timings: timings)
        #expect(m1.role == .starting)
        #expect(m1.tick(now: t(0)) == [.tryAcquire])
        #expect(m2.tick(now: t(0)) == [.tryAcquire])

        row = LeaseRules.acquire(row, by: "m1", now: t(0), ttl: timings.masterLeaseTTL)
        #expect(m1.acquired(row, sentAt: t(0)) == [.becamePrimary(term: 1)])
        row = LeaseRules.acquire(row, by: "m2", now: t(0), ttl: timings.masterLeaseTTL)
        #expect(m2.acquired(row, sentAt: t(0)) == [.becameSecondary(primary: "m1")])

        #expect(m1.role == .primary(term: 1) && m1.term == 1)
        #expect(m1.isPrimary(at: t(0)) && m1.isPrimary(at: t(9.99)) && !m1.isPrimary(at: t(10)))
        #expect(m1.localExpiry == t(10))
        #expect(m2.role == .secondary(primary: "m1") && m2.term == nil)
        #expect(!m2.isPrimary(at: t(0)))
        // Seeing the same holder again announces nothing.
        #expect(m2.acquired(row, sentAt: t(2)) == [])
    }

    @Test func secondaryRetriesEveryRenewPeriod() {
        var m = MasterLeaseMachine(nodeID: "m2", timings: timings)
        #expect(m.tick(now: t(0)) == [.tryAcquire])
        _ = m.acquired(LeaseRecord(holder: "m1", term: 1, expiresAt: t(10)), sentAt: t(0))
        #expect(m.tick(now: t(1)) == [])
        #expect(m.tick(now: t(1.99)) == [])
        #expect(m.tick(now: t(2)) == [.tryAcquire])
        #expect(m.tick(now: t(3)) == [])
    }

    @Test func renewingKeepsThePrimary() {
        var row = LeaseRecord.vacant
        var m = MasterLeaseMachine(nodeID: "m1", timings: timings)
        _ = m.tick(now: t(0))
        row = LeaseRules.acquire(row, by: "m1", now: t(0), ttl: 10)
        _ = m.acquired(row, sentAt: t(0))
        for s in stride(from: 1.0, through: 60, by: 1) {
            let d = m.tick(now: t(s))
            if Int(s) % 2 == 0 {
                #expect(d == [.renew(term: 1)], "at \(s)")
                let next = LeaseRules.renew(row, by: "m1", term: 1, now: t(s), ttl: 10)
                #expect(next != nil)
                row = next!
                #expect(m.renewed(ok: true, sentAt: t(s)) == [])
                #expect(m.localExpiry == t(s + 10))
            } else {
                #expect(d == [], "at \(s)")
            }
            #expect(m.isPrimary(at: t(s)))
        }
        #expect(row.term == 1)
    }

    /// The renewal loop and the step share one schedule: whichever asks first renews, the other
    /// finds nothing due; an older renewal answering late never shortens the lease.
    @Test func theRenewalLoopAndTheStepShareOneSchedule() {
        var m = MasterLeaseMachine(nodeID: "m1", timings: timings)
        #expect(m.renewalDue(now: t(0)) == [], "not primary yet: nothing to renew")
        _ = m.tick(now: t(0))
        _ = m.acquired(LeaseRules.acquire(.vacant, by: "m1", now: t(0), ttl: 10), sentAt: t(0))
        #expect(m.renewalDue(now: t(1)) == [])
        #expect(m.renewalDue(now: t(2)) == [.renew(term: 1)])
        #expect(m.tick(now: t(2.5)) == [], "the step finds the renewal already sent")
        #expect(m.renewalDue(now: t(4)) == [.renew(term: 1)])
        #expect(m.renewed(ok: true, sentAt: t(4)) == [])
        #expect(m.localExpiry == t(14))
        #expect(m.renewed(ok: true, sentAt: t(2)) == [], "the t=2 answer arrives after the t=4 one")
        #expect(m.localExpiry == t(14))
        #expect(m.renewalDue(now: t(14)) == [], "an expired lease is not renewed: it is re-acquired")
    }

    @Test func expiryLetsTheOtherTakeOverWithTheNextTerm() {
        var row = LeaseRecord.vacant
        var m1 = MasterLeaseMachine(nodeID: "m1", timings: timings)
        var m2 = MasterLeaseMachine(nodeID: "m2", timings: timings)
        _ = m1.tick(now: t(0)); _ = m2.tick(now: t(0))
        row = LeaseRules.acquire(row, by: "m1", now: t(0), ttl: 10); _ = m1.acquired(row, sentAt: t(0))
        row = LeaseRules.acquire(row, by: "m2", now: t(0), ttl: 10); _ = m2.acquired(row, sentAt: t(0))

        // m1 stops (killed or paused): no renewals. m2 keeps asking.
        var takeover: Double?
        for s in stride(from: 2.0, through: 20, by: 2) where takeover == nil {
            #expect(m2.tick(now: t(s)) == [.tryAcquire])
            row = LeaseRules.acquire(row, by: "m2", now: t(s), ttl: 10)
            let d = m2.acquired(row, sentAt: t(s))
            if d == [.becamePrimary(term: 2)] { takeover = s }
        }
        #expect(takeover == 10)
        #expect(row == LeaseRecord(holder: "m2", term: 2, expiresAt: t(20)))
        // The old primary, ticked again, steps down by its own clock: it was not primary after t(10).
        #expect(!m1.isPrimary(at: t(10)))
        let d = m1.tick(now: t(12))
        #expect(d.count == 2)
        if case .stepDown = d.first {} else { Issue.record("expected stepDown, got \(d)") }
        #expect(d.last == .becameSecondary(primary: nil))
        // And learns who holds it on its next attempt.
        #expect(m1.tick(now: t(12)) == [.tryAcquire])
        #expect(m1.acquired(LeaseRules.acquire(row, by: "m1", now: t(12), ttl: 10), sentAt: t(12)) == [.becameSecondary(primary: "m2")])
    }

    @Test func aPrimaryThatStopsRenewingLosesPrimaryByItsLocalExpiry() {
        var m = MasterLeaseMachine(nodeID: "m1", timings: timings)
        _ = m.tick(now: t(0))
        _ = m.acquired(LeaseRules.acquire(.vacant, by: "m1", now: t(0), ttl: 10), sentAt: t(0))
        // Renewals sent but every DB call fails.
        for s in stride(from: 2.0, through: 8, by: 2) {
            #expect(m.tick(now: t(s)) == [.renew(term: 1)])
            #expect(m.databaseFailed(now: t(s)) == [])
        }
        #expect(m.isPrimary(at: t(9.999)))
        #expect(!m.isPrimary(at: t(10)))
        #expect(m.term == 1)   // still nominally primary until ticked...
        let d = m.tick(now: t(10))
        if case .stepDown = d.first {} else { Issue.record("expected stepDown, got \(d)") }
        #expect(m.term == nil)
    }

    @Test func localExpiryCountsFromTheSendTimeNotTheAnswer() {
        var m = MasterLeaseMachine(nodeID: "m1", timings: timings)
        _ = m.tick(now: t(0))
        // The DB granted until t(10) for a request sent at t(0); the answer came at t(4).
        _ = m.acquired(LeaseRecord(holder: "m1", term: 1, expiresAt: t(10)), sentAt: t(0))
        #expect(m.localExpiry == t(10))
        // A DB whose clock runs ahead cannot extend the local view past sentAt + TTL.
        var n = MasterLeaseMachine(nodeID: "m2", timings: timings)
        _ = n.tick(now: t(0))
        _ = n.acquired(LeaseRecord(holder: "m2", term: 1, expiresAt: t(30)), sentAt: t(0))
        #expect(n.localExpiry == t(10))
        // A renewal counts from its send time too.
        _ = m.tick(now: t(2))
        _ = m.renewed(ok: true, sentAt: t(2))
        #expect(m.localExpiry == t(12))
    }

    @Test func aRefusedRenewalStepsDownAtOnce() {
        var m = MasterLeaseMachine(nodeID: "m1", timings: timings)
        _ = m.tick(now: t(0))
        _ = m.acquired(LeaseRules.acquire(.vacant, by: "m1", now: t(0), ttl: 10), sentAt: t(0))
        #expect(m.tick(now: t(2)) == [.renew(term: 1)])
        let d = m.renewed(ok: false, sentAt: t(2))
        #expect(d.count == 2)
        if case .stepDown(let reason) = d.first { #expect(reason.contains("refused")) } else { Issue.record("got \(d)") }
        #expect(d.last == .becameSecondary(primary: nil))
        #expect(!m.isPrimary(at: t(2)))
        // It asks again on the next tick, without waiting a renew period.
        #expect(m.tick(now: t(2.1)) == [.tryAcquire])
    }

    @Test func seeingAnotherHolderWhilePrimaryStepsDown() {
        var m = MasterLeaseMachine(nodeID: "m1", timings: timings)
        _ = m.tick(now: t(0))
        _ = m.acquired(LeaseRules.acquire(.vacant, by: "m1", now: t(0), ttl: 10), sentAt: t(0))
        let d = m.acquired(LeaseRecord(holder: "m3", term: 2, expiresAt: t(30)), sentAt: t(20))
        #expect(d.count == 2)
        if case .stepDown = d.first {} else { Issue.record("got \(d)") }
        #expect(d.last == .becameSecondary(primary: "m3"))
        #expect(m.role == .secondary(primary: "m3"))
    }

    @Test func reacquiringInTheSameTermAnnouncesNothing() {
        var m = MasterLeaseMachine(nodeID: "m1", timings: timings)
        _ = m.tick(now: t(0))
        let row = LeaseRules.acquire(.vacant, by: "m1", now: t(0), ttl: 10)
        #expect(m.acquired(row, sentAt: t(0)) == [.becamePrimary(term: 1)])
        #expect(m.acquired(LeaseRules.acquire(row, by: "m1", now: t(3), ttl: 10), sentAt: t(3)) == [])
        #expect(m.localExpiry == t(13))
    }

    @Test func anExpiredGrantDoesNotMakeItPrimary() {
        var m = MasterLeaseMachine(nodeID: "m1", timings: timings)
        _ = m.tick(now: t(0))
        // The row names m1 but expired before the request was sent: nobody holds a running lease.
        #expect(m.acquired(LeaseRecord(holder: "m1", term: 3, expiresAt: t(5)), sentAt: t(6)) == [.becameSecondary(primary: nil)])
        #expect(!m.isPrimary(at: t(6)))
    }

    @Test func aGrantWhoseAnswerArrivesAfterItLapsedIsNotAnnouncedAsPrimary() {
        // Sent at t(0), granted until t(10); the answer is processed at t(15): the process
        // was paused, or the DB call waited on a lock (SQLite busy timeout is 10 s REAL, a
        // 10 s logical TTL is 1 s real at WA_TIME_SCALE=0.1).
        var m = MasterLeaseMachine(nodeID: "m1", timings: timings)
        _ = m.tick(now: t(0))
        let processedAt = t(15)
        let d = m.acquired(LeaseRules.acquire(.vacant, by: "m1", now: t(0), ttl: 10), sentAt: t(0), now: processedAt)
        #expect(!m.isPrimary(at: processedAt))    // safety holds: every primary action checks this
        #expect(!d.contains(.becamePrimary(term: 1)), "a lapsed grant is not announced")
        #expect(m.tick(now: processedAt) == [.tryAcquire], "and it is retried at once")
    }

    @Test func resignForgetsTheLease() {
        var m = MasterLeaseMachine(nodeID: "m1", timings: timings)
        _ = m.tick(now: t(0))
        _ = m.acquired(LeaseRules.acquire(.vacant, by: "m1", now: t(0), ttl: 10), sentAt: t(0))
        m.resign()
        #expect(!m.isPrimary(at: t(1)))
        #expect(m.term == nil)
        #expect(m.role == .secondary(primary: nil))
        #expect(m.renewed(ok: true, sentAt: t(1)) == [])
        #expect(!m.isPrimary(at: t(1)))
    }
}
