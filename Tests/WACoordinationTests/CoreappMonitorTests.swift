import Testing
import WACore
@testable import WACoordination

@Suite("HeartbeatLedger")
struct HeartbeatLedgerTests {
    @Test func keepsTheLatestSendTimeEvenWhenAnswersArriveOutOfOrder() {
        var l = HeartbeatLedger()
        l.answered("c1", sentAt: t(10))
        l.answered("c1", sentAt: t(5))     // an old heartbeat's late answer
        #expect(l.lastAnswered["c1"] == t(10))
        l.answered("c1", sentAt: t(15))
        #expect(l.lastAnswered["c1"] == t(15))
    }

    @Test func firstSightIsKeptAndIsTheReferenceUntilAnAnswer() {
        var l = HeartbeatLedger()
        #expect(l.reference("c1") == nil)
        l.saw("c1", at: t(0))
        l.saw("c1", at: t(5))
        #expect(l.firstSeen["c1"] == t(0))
        #expect(l.reference("c1") == t(0))
        l.answered("c1", sentAt: t(5))
        #expect(l.reference("c1") == t(5))
        #expect(l.firstSeen["c1"] == t(0))
    }

    @Test func anAnswerWithoutASightingCountsAsFirstSight() {
        var l = HeartbeatLedger()
        l.answered("c2", sentAt: t(3))
        #expect(l.firstSeen["c2"] == t(3))
    }

    @Test func forgetDropsEverything() {
        var l = HeartbeatLedger()
        l.saw("c1", at: t(0)); l.answered("c1", sentAt: t(1))
        l.forget("c1")
        #expect(l.reference("c1") == nil)
        #expect(l == HeartbeatLedger())
    }
}

@Suite("CoreappMonitor")
struct CoreappMonitorTests {
    let monitor = CoreappMonitor(heartbeatInterval: 5, unhealthyInterval: 30, timings: .standard)
    let now = t(1000)

    /// The primary's ledger: c1 last answered `silentFor` seconds ago.
    func ledger(silentFor: Double, node: String = "c1") -> HeartbeatLedger {
        var l = HeartbeatLedger()
        l.saw(node, at: t(0))
        l.answered(node, sentAt: now - silentFor)
        return l
    }

    func peer(_ id: String = "m2", reportedAgo: Double = 1, silentFor: Double?, node: String = "c1") -> PeerReport {
        PeerReport(masterID: id, reportedAt: now - reportedAgo,
                   lastAnswered: silentFor.map { [node: now - $0] } ?? [:])
    }

    func verdict(own: HeartbeatLedger, peers: [PeerReport], db: LogicalInstant? = nil, node: String = "c1") -> UnhealthyReason? {
        monitor.verdict(for: node, now: now, own: own, peers: peers, dbHeartbeat: db ?? now - 10, registeredAt: t(0))
    }

    // MARK: heartbeat-based

    @Test func unhealthyWhenBothThePrimaryAndALivePeerMissedUnhealthyInterval() {
        let v = verdict(own: ledger(silentFor: 30), peers: [peer(silentFor: 31)])
        #expect(v == .heartbeat(primarySilentFor: 30, peer: "m2", peerSilentFor: 31, unhealthyInterval: 30))
        #expect(v?.path == "heartbeat")
        #expect(v?.description == "no heartbeat answer to the primary master for 30.0s and to m2 for 31.0s (unhealthy_interval 30s)")
    }

    @Test func noVerdictWhenOnlyThePrimaryLostTheCoreapp() {
        #expect(verdict(own: ledger(silentFor: 300), peers: [peer(silentFor: 2)]) == nil)
        #expect(verdict(own: ledger(silentFor: 30), peers: [peer(silentFor: 29.99)]) == nil)
    }

    @Test func noVerdictWhenOnlyTheSecondaryLostTheCoreapp() {
        #expect(verdict(own: ledger(silentFor: 2), peers: [peer(silentFor: 300)]) == nil)
        #expect(verdict(own: ledger(silentFor: 29.99), peers: [peer(silentFor: 30)]) == nil)
    }

    @Test func oneSilentPeerOutOfSeveralIsEnough() {
        let v = verdict(own: ledger(silentFor: 40), peers: [peer("m2", silentFor: 3), peer("m3", silentFor: 45)])
        #expect(v == .heartbeat(primarySilentFor: 40, peer: "m3", peerSilentFor: 45, unhealthyInterval: 30))
    }

    @Test func aDeadSecondaryDoesNotVote() {
        // freshness = 2h + tick + 1 = 12 s for h = 5
        #expect(monitor.livePeers([peer(reportedAgo: 12, silentFor: 40)], now: now).count == 1)
        #expect(monitor.livePeers([peer(reportedAgo: 12.01, silentFor: 40)], now: now).isEmpty)
        #expect(verdict(own: ledger(silentFor: 40), peers: [peer(reportedAgo: 13, silentFor: 40)]) == nil)
        #expect(!monitor.heartbeatMonitoringActive(peers: [peer(reportedAgo: 13, silentFor: 1)], now: now))
        #expect(monitor.heartbeatMonitoringActive(peers: [peer(reportedAgo: 1, silentFor: 1)], now: now))
    }

    @Test func livePeersAreSortedByMasterID() {
        let live = monitor.livePeers([peer("m3", silentFor: 1), peer("m2", silentFor: 1), peer("m9", reportedAgo: 60, silentFor: 1)], now: now)
        #expect(live.map(\.masterID) == ["m2", "m3"])
    }

    @Test func aPeerThatNeverHeardFromTheCoreappDoesNotVote() {
        // Doubtful but documented: a live peer whose report lacks the coreapp (it never got
        // an answer from it) cannot confirm the failure, so only the DB path remains.
        #expect(verdict(own: ledger(silentFor: 100), peers: [peer(silentFor: nil)]) == nil)
    }

    @Test func aBrandNewCoreappIsNotStaleAtOnce() {
        var l = HeartbeatLedger()
        l.saw("c9", at: now - 29)
        let silentPeer = peer(silentFor: 200, node: "c9")
        #expect(verdict(own: l, peers: [silentPeer], node: "c9") == nil)
        l.saw("c9", at: now - 1)   // a later sighting does not move first sight
        #expect(l.firstSeen["c9"] == now - 29)
        var older = HeartbeatLedger()
        older.saw("c9", at: now - 30)
        #expect(verdict(own: older, peers: [silentPeer], node: "c9") != nil)
        // Never seen by this master at all: no verdict.
        #expect(verdict(own: HeartbeatLedger(), peers: [silentPeer], node: "c9") == nil)
    }

    // MARK: DB-based

    @Test func withOneMasterHeartbeatSilenceAloneNeverFailsOver() {
        #expect(!monitor.heartbeatMonitoringActive(peers: [], now: now))
        #expect(verdict(own: ledger(silentFor: 10_000), peers: [], db: now - 119) == nil)
        #expect(verdict(own: ledger(silentFor: 10_000), peers: [], db: now - 120) == nil)
    }

    @Test func aDBHeartbeatOlderThan120SecondsFailsOver() {
        let v = verdict(own: ledger(silentFor: 0), peers: [], db: now - 120.5)
        #expect(v == .database(heartbeatAge: 120.5, limit: 120))
        #expect(v?.path == "db")
        #expect(v?.description == "DB heartbeat is 120.5s old (limit 120s)")
        // It applies with live peers too, and before the heartbeat path.
        #expect(verdict(own: ledger(silentFor: 50), peers: [peer(silentFor: 50)], db: now - 121) == .database(heartbeatAge: 121, limit: 120))
    }

    @Test func aCoreappThatNeverWroteADBHeartbeat() {
        let young = monitor.verdict(for: "c1", now: now, own: HeartbeatLedger(), peers: [], dbHeartbeat: nil, registeredAt: now - 120)
        #expect(young == nil)
        let old = monitor.verdict(for: "c1", now: now, own: HeartbeatLedger(), peers: [], dbHeartbeat: nil, registeredAt: now - 121)
        #expect(old == .neverHeartbeated(limit: 120))
        #expect(old?.path == "db")
    }

    // MARK: delays

    /// Heartbeats every h from both masters; every answer comes back `roundTrip` seconds after
    /// it was sent. Returns the first instant a verdict appears within `horizon`, if any.
    func firstVerdictUnderDelay(roundTrip: Double, horizon: Double = 600) -> Double? {
        var own = HeartbeatLedger(), peerLedger = HeartbeatLedger()
        var report = PeerReport(masterID: "m2", reportedAt: t(0), lastAnswered: [:])
        var inFlight: [(arrives: Double, sentAt: Double)] = []
        var s = 0.0
        while s <= horizon {
            // Answers that arrived by now (both masters see the same link delay).
            for a in inFlight where a.arrives <= s {
                own.answered("c1", sentAt: t(a.sentAt)); peerLedger.answered("c1", sentAt: t(a.sentAt))
            }
            inFlight.removeAll { $0.arrives <= s }
            if s.truncatingRemainder(dividingBy: 5) == 0 {
                own.saw("c1", at: t(s)); peerLedger.saw("c1", at: t(s))
                report = PeerReport(masterID: "m2", reportedAt: t(s), lastAnswered: peerLedger.lastAnswered)
                inFlight.append((s + roundTrip, s))
            }
            if s > 0, monitor.verdict(for: "c1", now: t(s), own: own, peers: [report], dbHeartbeat: t(s), registeredAt: t(0)) != nil {
                return s
            }
            s += 0.25
        }
        return nil
    }

    @Test(arguments: [0.0, 0.5, 2, 10, 20, 24.75])
    func lateAnswersWithFreshSendTimesNeverFailOver(roundTrip: Double) {
        // Staleness is measured from the send time of the latest answered heartbeat, so a
        // round trip r keeps the silence at most r + h: below u whenever r + h < u.
        #expect(firstVerdictUnderDelay(roundTrip: roundTrip) == nil)
    }

    @Test func aRoundTripOfAtLeastUMinusHDoesFailOver() {
        // Documents the real bound. The comment on HeartbeatLedger says "a delay below
        // unhealthy_interval never fails a coreapp over on its own"; in fact the bound is
        // round trip + heartbeat_interval < unhealthy_interval (25 s here, not 30 s).
        #expect(firstVerdictUnderDelay(roundTrip: 25.25) != nil)
        #expect(firstVerdictUnderDelay(roundTrip: 29) != nil)
    }

    // MARK: promotion

    @Test func promotableOnlyIfItAnsweredRecentlyAndItsDBRowIsFresh() {
        // window = max(2h, 2 tick) + tick = 11 s
        #expect(monitor.isPromotable("c1", now: now, own: ledger(silentFor: 11), dbHeartbeat: now - 5))
        #expect(!monitor.isPromotable("c1", now: now, own: ledger(silentFor: 11.01), dbHeartbeat: now - 5))
        #expect(!monitor.isPromotable("c1", now: now, own: ledger(silentFor: 1), dbHeartbeat: now - 121))
        #expect(monitor.isPromotable("c1", now: now, own: ledger(silentFor: 1), dbHeartbeat: now - 120))
        #expect(monitor.isPromotable("c1", now: now, own: ledger(silentFor: 1), dbHeartbeat: nil))
        var seenOnly = HeartbeatLedger()
        seenOnly.saw("c1", at: now)
        #expect(!monitor.isPromotable("c1", now: now, own: seenOnly, dbHeartbeat: now))
        #expect(!monitor.isPromotable("c1", now: now, own: HeartbeatLedger(), dbHeartbeat: now))
    }

    @Test func promotionWindowFollowsTheTickWhenHeartbeatsAreFast() {
        let fast = CoreappMonitor(heartbeatInterval: 0.2, unhealthyInterval: 2, timings: .standard)
        // max(0.4, 2) + 1 = 3 s
        #expect(fast.isPromotable("c1", now: now, own: ledger(silentFor: 3), dbHeartbeat: now))
        #expect(!fast.isPromotable("c1", now: now, own: ledger(silentFor: 3.1), dbHeartbeat: now))
    }
}
