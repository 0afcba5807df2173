import Testing
import WACore
@testable import WACoordination

@Suite("ShardOwnerMachine (fencing)")
struct ShardOwnerMachineTests {
    let timings = ClusterTimings.standard       // shard lease TTL 8, renew every 2, safety margin 2
    let a = ShardOwnerMachine.Assignment(shard: 0, epoch: 5, fenceUntil: t(100))

    /// A machine serving `a` since t(100), its lease until t(108), connected.
    func servingMachine(connected: Bool = true) -> ShardOwnerMachine {
        var m = ShardOwnerMachine(timings: timings)
        #expect(m.observe(a, now: t(100)) == [.acquireLease(shard: 0, epoch: 5)])
        #expect(m.leaseAcquired(until: t(108), sentAt: t(100)) == [.promoted(shard: 0, epoch: 5), .connect(shard: 0, epoch: 5)])
        if connected { #expect(m.gatewayConnected(now: t(100.5)) == []) }
        return m
    }

    func connects(_ d: [ShardOwnerMachine.Directive]) -> Bool {
        d.contains { if case .connect = $0 { true } else { false } }
    }
    func disconnects(_ d: [ShardOwnerMachine.Directive]) -> Bool {
        d.contains { if case .disconnect = $0 { true } else { false } }
    }

    /// A planned handover: the owner lets go on command, and the database's stale word (the
    /// map still naming it until the release is written) does not bring it back.
    @Test func aReleasedShardIsNotTakenAgainFromTheSameEpoch() {
        var m = servingMachine()
        #expect(m.release(shard: 1, epoch: 5) == nil, "not this node's shard")
        #expect(m.release(shard: 0, epoch: 4) == nil, "not this epoch")
        let out = m.release(shard: 0, epoch: 5)
        #expect(out.map(disconnects) == true)
        #expect(out?.contains { if case .demoted = $0 { true } else { false } } == true)
        #expect(m.state == .standby)
        #expect(m.observe(a, now: t(101)) == [], "the released epoch must not be acquired again")
        #expect(m.tick(now: t(102)) == [])
        // A later assignment (a new epoch) is the master's new word.
        let again = ShardOwnerMachine.Assignment(shard: 0, epoch: 6, fenceUntil: t(101))
        #expect(m.observe(again, now: t(103)) == [.acquireLease(shard: 0, epoch: 6)])
    }

    @Test func aStandbyWithNoAssignmentDoesNothing() {
        var m = ShardOwnerMachine(timings: timings)
        #expect(m.state == .standby)
        #expect(m.tick(now: t(0)) == [])
        #expect(m.enforceExpiry(now: t(0)) == [])
        #expect(m.observe(nil, now: t(0)) == [])
        #expect(m.resign() == [])
        #expect(m.servingShard == nil && m.connection == .down && !m.mayServe(at: t(0)))
    }

    @Test func waitsForTheFenceBeforeAcquiring() {
        var m = ShardOwnerMachine(timings: timings)
        #expect(m.observe(a, now: t(90)) == [])
        #expect(m.state == .fenced(a))
        #expect(m.tick(now: t(99.99)) == [])
        #expect(m.observe(a, now: t(99.99)) == [])
        #expect(m.tick(now: t(100)) == [.acquireLease(shard: 0, epoch: 5)])
        #expect(m.state == .acquiring(a))
        // No second request while the first is out.
        #expect(m.tick(now: t(101)) == [])
        #expect(m.observe(a, now: t(101)) == [])
    }

    @Test func aLaterFenceReplacesTheEarlierOne() {
        var m = ShardOwnerMachine(timings: timings)
        _ = m.observe(a, now: t(90))
        let later = ShardOwnerMachine.Assignment(shard: 0, epoch: 5, fenceUntil: t(120))
        #expect(m.observe(later, now: t(101)) == [])
        #expect(m.state == .fenced(later))
        #expect(m.tick(now: t(119)) == [])
        #expect(m.tick(now: t(120)) == [.acquireLease(shard: 0, epoch: 5)])
    }

    @Test func acquiringPromotesAndConnects() {
        var m = servingMachine(connected: false)
        #expect(m.state == .serving(a, leaseUntil: t(108), connection: .connecting))
        #expect(m.servingShard == 0)
        #expect(m.connection == .connecting)
        #expect(m.gatewayConnected(now: t(101)) == [])
        #expect(m.connection == .connected)
        // It may serve until the lease end minus the safety margin.
        #expect(m.mayServe(at: t(105.99)))
        #expect(!m.mayServe(at: t(106)))
    }

    @Test func theLocalLeaseNeverOutlivesSendTimePlusTTL() {
        var m = ShardOwnerMachine(timings: timings)
        _ = m.observe(a, now: t(100))
        _ = m.leaseAcquired(until: t(200), sentAt: t(100))
        #expect(m.state == .serving(a, leaseUntil: t(108), connection: .connecting))
        var n = ShardOwnerMachine(timings: timings)
        _ = n.observe(a, now: t(100))
        _ = n.leaseAcquired(until: t(104), sentAt: t(100))
        #expect(n.state == .serving(a, leaseUntil: t(104), connection: .connecting))
    }

    @Test func aRefusedAcquireGoesBackToStandbyAndRetriesOnTheNextObservation() {
        var m = ShardOwnerMachine(timings: timings)
        _ = m.observe(a, now: t(100))
        #expect(m.leaseAcquired(until: nil, sentAt: t(100)) == [])
        #expect(m.state == .standby)
        #expect(m.observe(a, now: t(101)) == [.acquireLease(shard: 0, epoch: 5)])
    }

    @Test func renewsEveryRenewPeriod() {
        var m = servingMachine()
        var renewals: [Double] = []
        for s in stride(from: 100.25, through: 120, by: 0.25) {
            let d = m.tick(now: t(s))
            if d.contains(.renewLease(shard: 0, epoch: 5)) {
                renewals.append(s)
                #expect(m.leaseRenewed(ok: true, sentAt: t(s)) == [])
            }
            #expect(!disconnects(d) && !connects(d))
            #expect(m.mayServe(at: t(s)))
        }
        #expect(renewals == [102, 104, 106, 108, 110, 112, 114, 116, 118, 120])
        #expect(m.state == .serving(a, leaseUntil: t(128), connection: .connected))
    }

    /// The renewal loop of its own and the step's tick share one schedule: whichever asks first
    /// sends it, never two within a renew period, and a step stuck on its reads does not hold
    /// the lease back.
    @Test func theRenewalLoopAndTheTickShareOneSchedule() {
        var m = servingMachine()
        #expect(m.renewalDue(now: t(101)) == [])
        #expect(m.renewalDue(now: t(102)) == [.renewLease(shard: 0, epoch: 5)])
        #expect(m.tick(now: t(102.5)) == [], "the tick does not send a second renewal")
        #expect(m.renewalDue(now: t(103.9)) == [])
        #expect(m.leaseRenewed(ok: true, sentAt: t(102)) == [])
        // The steps stall (no tick from 102.5 on); the loop alone keeps the lease.
        var renewals: [Double] = []
        for s in stride(from: 103.0, through: 120, by: 0.25) {
            if m.renewalDue(now: t(s)) == [.renewLease(shard: 0, epoch: 5)] {
                renewals.append(s)
                #expect(m.leaseRenewed(ok: true, sentAt: t(s)) == [])
            }
            #expect(m.enforceExpiry(now: t(s)) == [])
        }
        #expect(renewals == [104, 106, 108, 110, 112, 114, 116, 118, 120])
        #expect(m.state == .serving(a, leaseUntil: t(128), connection: .connected))
        var standby = ShardOwnerMachine(timings: timings)
        #expect(standby.renewalDue(now: t(0)) == [], "nothing to renew when not serving")
    }

    @Test func aRefusedRenewalDisconnectsAndDemotes() {
        var m = servingMachine()
        #expect(m.tick(now: t(102)) == [.renewLease(shard: 0, epoch: 5)])
        let d = m.leaseRenewed(ok: false, sentAt: t(102))
        #expect(d.count == 2)
        guard case .disconnect(0, let why)? = d.first, case .demoted(0, _)? = d.last else { Issue.record("got \(d)"); return }
        #expect(why.contains("renewal refused"))
        #expect(m.state == .standby)
        #expect(!m.mayServe(at: t(102)))
    }

    @Test func withTheDBUnavailableItServesUntilTheLeaseEndMinusTheMargin() {
        var m = servingMachine()
        var droppedAt: Double?
        for s in stride(from: 100.25, through: 115, by: 0.25) {
            let d = m.databaseUnavailable(now: t(s)) + m.tick(now: t(s))
            if d.contains(.renewLease(shard: 0, epoch: 5)) { #expect(m.leaseRenewed(ok: nil, sentAt: t(s)) == []) }
            if disconnects(d), droppedAt == nil {
                droppedAt = s
                #expect(d.contains(.demoted(shard: 0, reason: "shard lease expired")))
                // Fenced by its own old lease: it may try again only once that lease is over.
                #expect(m.state == .fenced(.init(shard: 0, epoch: 5, fenceUntil: t(108))))
            }
            #expect(!connects(d))
            if s < 108, droppedAt == nil { #expect(m.mayServe(at: t(s)) == (s < 106)) }
        }
        #expect(droppedAt == 106)
    }

    @Test func afterItsOwnLeaseLapsedItReacquiresTheSameEpochButDoesNotReconnectOnItsOwn() {
        var m = servingMachine()
        #expect(disconnects(m.enforceExpiry(now: t(106))))
        #expect(m.tick(now: t(107)) == [])
        #expect(m.tick(now: t(108)) == [.acquireLease(shard: 0, epoch: 5)])
        #expect(m.leaseAcquired(until: t(116), sentAt: t(108)) == [.promoted(shard: 0, epoch: 5), .connect(shard: 0, epoch: 5)])
    }

    @Test func enforceExpiryDoesNothingWhileTheLeaseIsGood() {
        var m = servingMachine()
        #expect(m.enforceExpiry(now: t(105.99)) == [])
        #expect(m.connection == .connected)
    }

    @Test func afterALongPauseTheWatchdogDisconnectsBeforeAnyReconnect() {
        var m = servingMachine()
        // SIGSTOP at t(101), SIGCONT at t(160): the watchdog runs first.
        let d = m.enforceExpiry(now: t(160))
        #expect(d.first.map { if case .disconnect(0, _) = $0 { true } else { false } } == true)
        #expect(!connects(d))
        #expect(!m.mayServe(at: t(160)))
        // The next step asks the DB again; it never connects without a fresh grant.
        let next = m.tick(now: t(160))
        #expect(next == [.acquireLease(shard: 0, epoch: 5)])
        // Meanwhile the master gave the shard to another node: the DB refuses.
        #expect(m.leaseAcquired(until: nil, sentAt: t(160)) == [])
        #expect(m.observe(nil, now: t(161)) == [])
        #expect(m.state == .standby)
        for s in stride(from: 161.0, through: 200, by: 0.5) {
            #expect(!connects(m.tick(now: t(s)) + m.enforceExpiry(now: t(s))))
        }
    }

    @Test func afterALongPauseTheStepAloneAlsoDisconnectsFirst() {
        var m = servingMachine()
        let d = m.tick(now: t(160))
        #expect(d.count == 2)
        #expect(d.first.map { if case .disconnect(0, _) = $0 { true } else { false } } == true)
        #expect(!d.contains(.renewLease(shard: 0, epoch: 5)))
        #expect(!connects(d))
    }

    @Test func aPendingReconnectDoesNotSurviveAPause() {
        var m = servingMachine()
        #expect(m.gatewayDisconnected(now: t(101), retryAfter: 1) == [])
        // The reconnect was due at t(102), but the process slept until t(160).
        let d = m.tick(now: t(160))
        #expect(d == [.demoted(shard: 0, reason: "shard lease expired")])   // already down: nothing to disconnect
        #expect(!connects(d))
    }

    @Test func afterBeingReplacedItNeverConnectsWithoutAFreshLease() {
        for replacement in [nil, ShardOwnerMachine.Assignment(shard: 0, epoch: 9, fenceUntil: t(110))] {
            var m = servingMachine()
            let d = m.observe(replacement, now: t(103))
            #expect(d.count == 2)
            guard case .disconnect(0, let why)? = d.first, case .demoted(0, _)? = d.last else { Issue.record("got \(d)"); continue }
            #expect(why == (replacement == nil ? "the shard map no longer names this node" : "reassigned to shard 0 epoch 9"))
            #expect(!m.mayServe(at: t(103)))
            // Late news from the old session or DB calls must not bring the connection back.
            var later: [ShardOwnerMachine.Directive] = []
            later += m.gatewayConnected(now: t(103.5))
            later += m.leaseRenewed(ok: true, sentAt: t(103))
            later += m.leaseAcquired(until: t(111), sentAt: t(103))
            later += m.gatewayDisconnected(now: t(104), retryAfter: 0)
            for s in stride(from: 104.0, through: 109.75, by: 0.25) { later += m.tick(now: t(s)) + m.enforceExpiry(now: t(s)) }
            #expect(!connects(later), "\(later)")
            #expect(later.contains(.disconnect(shard: -1, reason: "connected while not serving")))
            if let r = replacement {
                // The new epoch: acquire only after its fence, connect only after the grant.
                #expect(m.tick(now: t(110)) == [.acquireLease(shard: 0, epoch: 9)])
                #expect(m.leaseAcquired(until: t(118), sentAt: t(110)) == [.promoted(shard: 0, epoch: 9), .connect(shard: 0, epoch: 9)])
                #expect(m.state == .serving(r, leaseUntil: t(118), connection: .connecting))
            }
        }
    }

    @Test func reassignedWithThePassedFenceDisconnectsBeforeAcquiring() {
        var m = servingMachine()
        let d = m.observe(.init(shard: 1, epoch: 9, fenceUntil: t(90)), now: t(103))
        #expect(d.count == 3)
        #expect(d.last == .acquireLease(shard: 1, epoch: 9))
        guard case .disconnect(0, _)? = d.first else { Issue.record("got \(d)"); return }
    }

    @Test func aDroppedGatewayConnectionIsRetriedWhileTheLeaseIsValid() {
        var m = servingMachine()
        #expect(m.gatewayDisconnected(now: t(101), retryAfter: 1) == [])
        #expect(m.connection == .down)
        #expect(m.mayServe(at: t(101)))
        #expect(m.tick(now: t(101.5)) == [])
        let d = m.tick(now: t(102))
        #expect(d == [.renewLease(shard: 0, epoch: 5), .connect(shard: 0, epoch: 5)])
        #expect(m.connection == .connecting)
        #expect(m.gatewayConnected(now: t(102.5)) == [])
        #expect(m.connection == .connected)
    }

    @Test func aDroppedGatewayConnectionIsNotRetriedOnceTheLeaseRunsOut() {
        var m = servingMachine()
        #expect(m.gatewayDisconnected(now: t(105), retryAfter: 2) == [])
        var all: [ShardOwnerMachine.Directive] = []
        for s in stride(from: 105.25, through: 112, by: 0.25) { all += m.enforceExpiry(now: t(s)) + m.tick(now: t(s)) }
        #expect(!connects(all))
        #expect(all.contains(.demoted(shard: 0, reason: "shard lease expired")))
    }

    @Test func aConnectionThatCompletesAfterTheLeaseEndedIsDropped() {
        var m = servingMachine(connected: false)
        #expect(m.gatewayConnected(now: t(106)) == [.disconnect(shard: 0, reason: "lease ended while connecting")])
        #expect(m.connection == .connecting)
    }

    @Test func resignDisconnectsOnlyWhenServing() {
        var m = servingMachine()
        let d = m.resign()
        #expect(d == [.disconnect(shard: 0, reason: "node is shutting down"), .demoted(shard: 0, reason: "node is shutting down")])
        #expect(m.state == .standby)
        #expect(m.resign() == [])

        var f = ShardOwnerMachine(timings: timings)
        _ = f.observe(a, now: t(90))
        #expect(f.resign() == [])
        #expect(f.state == .standby)
    }

    @Test func aGrantWhoseAnswerArrivesAfterTheLeaseEndedMustNotConnect() {
        // acquireLease sent at t(100), granted until t(108); the answer is processed at t(150)
        // (the process was SIGSTOPped after the DB call, or the call waited on a lock). Meanwhile
        // the master may have promoted a successor fenced until t(108), who is connected now.
        var m = ShardOwnerMachine(timings: timings)
        _ = m.observe(a, now: t(100))
        let processedAt = t(150)
        let d = m.leaseAcquired(shard: a.shard, epoch: a.epoch, until: t(108), sentAt: t(100), now: processedAt)
        #expect(!m.mayServe(at: processedAt))
        #expect(!connects(d), "a lapsed grant never leads to a connection")
        #expect(m.tick(now: processedAt) == [.acquireLease(shard: a.shard, epoch: a.epoch)], "it asks again instead")
    }

    @Test func anAnswerForAnotherRequestIsIgnored() {
        var m = ShardOwnerMachine(timings: timings)
        _ = m.observe(a, now: t(100))
        #expect(m.leaseAcquired(shard: a.shard, epoch: a.epoch + 1, until: t(108), sentAt: t(100), now: t(100)) == [])
        #expect(m.state == .acquiring(a))
    }

    // MARK: random events

    /// Random events against one machine, with a model of the shell's gateway session.
    /// Invariants: after the watchdog or a step, an open session implies a valid lease; a
    /// connect comes only from a fresh grant or a retry within the lease; never two sessions.
    @Test(arguments: [11, 12, 13, 14] as [UInt64])
    func randomEventsNeverLeaveASessionOpenWithoutALease(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var m = ShardOwnerMachine(timings: timings)
        var now = t(0)
        var session = false
        var epoch = 1
        var assigned: ShardOwnerMachine.Assignment? = .init(shard: 0, epoch: 1, fenceUntil: t(0))
        var pendingAcquire: LogicalInstant?
        var pendingRenew: LogicalInstant?
        var connects = 0, disconnectsSeen = 0, expiries = 0

        func apply(_ d: [ShardOwnerMachine.Directive], grant: Bool = false) {
            for x in d {
                switch x {
                case .connect:
                    #expect(!session, "second session at \(now)")
                    #expect(grant || m.mayServe(at: now), "connect without a valid lease at \(now)")
                    session = true; connects += 1
                case .disconnect(let shard, _):
                    if shard >= 0 { session = false }
                    disconnectsSeen += 1
                case .acquireLease: pendingAcquire = now
                case .renewLease: pendingRenew = now
                case .demoted(_, let reason): if reason == "shard lease expired" { expiries += 1 }
                case .promoted: break
                }
            }
        }

        for _ in 0..<20_000 {
            // Time moves on: mostly small steps, sometimes a long pause.
            now = now + (rng.oneIn(300) ? Double(rng.below(40) + 1) : Double(rng.below(4) + 1) * 0.125)
            switch rng.below(10) {
            case 0, 1:
                apply(m.enforceExpiry(now: now))
                #expect(!session || m.mayServe(at: now), "session open after the watchdog at \(now)")
            case 2, 3:
                apply(m.observe(assigned, now: now))
                apply(m.tick(now: now))
                #expect(!session || m.mayServe(at: now), "session open after a step at \(now)")
            case 4:
                if let sent = pendingAcquire {
                    pendingAcquire = nil
                    // Refused, or granted; an answer later than 1 s counts as a failed call (nil),
                    // since stale grants are the known issue above.
                    let granted = (rng.oneIn(4) || now - sent > 1) ? nil : Optional(sent + timings.shardLeaseTTL)
                    apply(m.leaseAcquired(until: granted, sentAt: sent), grant: granted != nil)
                }
            case 5:
                if let sent = pendingRenew {
                    pendingRenew = nil
                    let ok: Bool? = rng.oneIn(3) ? nil : !rng.oneIn(20)
                    apply(m.leaseRenewed(ok: ok, sentAt: sent))
                }
            case 6:
                if session, rng.oneIn(3) { session = false; apply(m.gatewayDisconnected(now: now, retryAfter: Double(rng.below(3)))) }
                else if session { apply(m.gatewayConnected(now: now)) }
            case 7:
                if rng.oneIn(20) {
                    // The master moves this node: away, or to a new epoch fenced a little.
                    epoch += 1
                    assigned = rng.oneIn(3) ? nil : .init(shard: rng.below(2), epoch: epoch, fenceUntil: now + Double(rng.below(10)))
                }
            default:
                apply(m.tick(now: now))
            }
            #expect(!session || m.servingShard != nil, "session open while not serving at \(now)")
        }
        print("shard owner random events seed \(seed): connects \(connects), disconnects \(disconnectsSeen), lease expiries \(expiries), last epoch \(epoch)")
        #expect(connects > 20 && expiries > 5)
    }
}
