import ChaosCheckers
import Foundation
import Testing
import WACore

@Suite struct NoLossTests {
    @Test func passesWhenEveryAcceptedSendArrived() throws {
        let r = try CannedRun.healthy().load()
        let c = try #require(Checker.noLoss.check(r))
        #expect(c.verdict == .pass, "\(c.reason)")
        #expect(c.figures["ok"] == 100 && c.figures["lost"] == 0)
    }

    @Test func failsWhenAnOkIsMissingFromTheJournal() throws {
        var run = CannedRun.healthy()
        run.sends(1, from: 1040, arrive: false, prefix: "lost")
        let c = try #require(Checker.noLoss.check(try run.load()))
        #expect(c.verdict == .fail)
        #expect(c.reason.contains("lost") && c.figures["lost"] == 1, "\(c.reason)")
    }

    @Test func countsInfoSendsApartAndStillPasses() throws {
        var run = CannedRun.healthy()
        run.failedSend(shard: 0, at: 1045, info: true)
        let c = try #require(Checker.noLoss.check(try run.load()))
        #expect(c.verdict == .pass && c.figures["info"] == 1, "\(c.reason)")
    }

    @Test func tooFewSendsInAFaultWindowIsUnknownNotPass() throws {
        var run = CannedRun()
        run.event("master1", .leaseAcquired(term: 1, validFor: 10), at: 1000.5)
        run.sends(5, from: 1010, every: 1)
        run.fault(1, "kill", at: 1010, targets: ["wacore1"], shards: [0], healAt: 1020)
        let c = try #require(Checker.noLoss.check(try run.load()))
        #expect(c.verdict == .unknown, "\(c.reason)")
        #expect(c.reason.contains("too thin") && c.reason.contains("threshold 20"))
    }

    @Test func doesNotApplyWithoutAWorkload() throws {
        var run = CannedRun()
        run.meta.workloadFrom = nil; run.meta.workloadTo = nil
        #expect(Checker.noLoss.check(try run.load()) == nil)
    }
}

@Suite struct NoDuplicateTests {
    @Test func failsOnAMessageTwiceInTheJournal() throws {
        var run = CannedRun.healthy()
        run.journal.append(["event": "message", "id": run.history[1].id!, "ts": 1049.0, "session": 2, "shard": 0])
        let c = try #require(Checker.noDuplicate.check(try run.load()))
        #expect(c.verdict == .fail && c.figures["duplicated"] == 1, "\(c.reason)")
    }

    @Test func failsWhenOneKeyWasAcceptedUnderTwoIDs() throws {
        var run = CannedRun.healthy()
        run.op("client-0", .invoke, 1050) { $0.shard = 0; $0.key = "same" }
        run.op("client-0", .ok, 1050.01) { $0.shard = 0; $0.key = "same"; $0.id = "a1" }
        run.op("client-0", .invoke, 1050.1) { $0.shard = 0; $0.key = "same" }
        run.op("client-0", .ok, 1050.11) { $0.shard = 0; $0.key = "same"; $0.id = "a2" }
        let c = try #require(Checker.noDuplicate.check(try run.load()))
        #expect(c.verdict == .fail && c.reason.contains("idempotency key"), "\(c.reason)")
    }

    @Test func passesAndIsUnknownWithAnEmptyJournal() throws {
        #expect(try Checker.noDuplicate.check(CannedRun.healthy().load())?.verdict == .pass)
        var run = CannedRun.healthy()
        run.journal = []
        #expect(try Checker.noDuplicate.check(run.load())?.verdict == .unknown)
    }
}

@Suite struct StatusesDeliveredTests {
    @Test func failsWhenASentStatusNeverCame() throws {
        var run = CannedRun.healthy()
        run.webhook.removeLast()
        let c = try #require(Checker.statusesDelivered.check(try run.load()))
        #expect(c.verdict == .fail && c.figures["without_status"] == 1, "\(c.reason)")
    }

    @Test func failsWhenAStatusIsLaterThanTheAllowance() throws {
        var run = CannedRun.healthy()
        let last = run.webhook.removeLast()
        run.webhook.append(WebhookReceipt(ts: last.ts + 60, statuses: last.statuses))
        let c = try #require(Checker.statusesDelivered.check(try run.load()))
        #expect(c.verdict == .fail && c.figures["late"] == 1, "\(c.reason)")
    }

    @Test func passesOnTheHealthyRun() throws {
        #expect(try Checker.statusesDelivered.check(CannedRun.healthy().load())?.verdict == .pass)
    }

    /// The message was acked just before the database went away, so its status could only be
    /// stored and posted once the database was back: the allowance counts from the heal.
    @Test func aFaultBeginningRightAfterTheArrivalHoldsTheStatusBackTooWithinLimits() throws {
        var run = CannedRun.healthy()
        let last = run.webhook.removeLast()
        let arrived = last.ts - 0.02
        run.fault(1, "partition", at: arrived + 0.05, targets: ["wacore1", "db"], shards: [-1], healAt: arrived + 15)
        run.webhook.append(WebhookReceipt(ts: arrived + 16, statuses: last.statuses))
        let held = try #require(Checker.statusesDelivered.check(try run.load()))
        #expect(held.verdict == .pass, "\(held.reason)")
        // Long after the heal it is late all the same.
        run.webhook[run.webhook.count - 1] = WebhookReceipt(ts: arrived + 40, statuses: last.statuses)
        let late = try #require(Checker.statusesDelivered.check(try run.load()))
        #expect(late.verdict == .fail && late.figures["late"] == 1, "\(late.reason)")
    }
}

@Suite struct ConflictAndPrimaryTests {
    @Test func aConflictInTheJournalFails() throws {
        var run = CannedRun.healthy()
        run.journal.append(["event": "conflict", "shard": 0, "live_node": "wacore1", "live_epoch": 1, "new_node": "wacore2", "new_epoch": 2, "ts": 1030.0])
        let c = try #require(Checker.noConflict.check(try run.load()))
        #expect(c.verdict == .fail && c.reason.contains("wacore2"), "\(c.reason)")
    }

    @Test func noConnectionAtAllIsUnknownNotPass() throws {
        var run = CannedRun.healthy()
        run.journal = run.journal.filter { ($0["event"] as? String) != "connect" }
        #expect(try Checker.noConflict.check(run.load())?.verdict == .unknown)
        #expect(try Checker.noConflict.check(CannedRun.healthy().load())?.verdict == .pass)
    }

    @Test func twoOverlappingPrimaryTermsFail() throws {
        var run = CannedRun.healthy()
        run.event("master2", .leaseAcquired(term: 2, validFor: 10), at: 1020)
        // master1 says it lost the lease only later, and its lease was still valid then.
        run.event("master1", .leaseLost(reason: "renewal refused", validFor: 1), at: 1025)
        let c = try #require(Checker.singlePrimary.check(try run.load()))
        #expect(c.verdict == .fail && c.reason.contains("both primary"), "\(c.reason)")
    }

    @Test func aPausedPrimaryWhoseLeaseRanOutEarlierDoesNotOverlap() throws {
        var run = CannedRun.healthy()
        run.meta.deaths = [:]
        run.event("master2", .leaseAcquired(term: 2, validFor: 10), at: 1020)
        // Resumed at 1030, it logs the loss with a validity that ended 12 real s earlier (120 logical).
        run.event("master1", .leaseLost(reason: "expired while paused", validFor: -120), at: 1030)
        let c = try #require(Checker.singlePrimary.check(try run.load()))
        #expect(c.verdict == .pass, "\(c.reason)")
    }

    @Test func aTermWonByTwoMastersFails() throws {
        var run = CannedRun.healthy()
        run.event("master1", .leaseLost(reason: "x", validFor: 0), at: 1010)
        run.event("master2", .leaseAcquired(term: 1, validFor: 10), at: 1020)
        #expect(try Checker.singlePrimary.check(run.load())?.verdict == .fail)
    }
}

@Suite struct ShardAvailabilityTests {
    @Test func failedSendsMatchedToTheFaultOnTheirShardPass() throws {
        var run = CannedRun.healthy()
        run.sends(30, shard: 1, from: 1001)
        run.fault(1, "kill", at: 1010, targets: ["wacore1"], shards: [0])
        for k in 0..<3 { run.failedSend(shard: 0, at: 1011 + Double(k)) }
        let c = try #require(Checker.shardAvailability.check(try run.load()))
        #expect(c.verdict == .pass && c.reason.contains("← fault 1"), "\(c.reason)")
    }

    @Test func failedSendsOnAShardTheFaultDidNotTouchFail() throws {
        var run = CannedRun.healthy()
        run.sends(30, shard: 1, from: 1001)
        run.fault(1, "kill", at: 1010, targets: ["wacore1"], shards: [0])
        run.failedSend(shard: 1, at: 1012)
        let c = try #require(Checker.shardAvailability.check(try run.load()))
        #expect(c.verdict == .fail && c.reason.contains("shard 1"), "\(c.reason)")
    }

    @Test func failuresLongAfterTheFaultHealedAreNotExcused() throws {
        var run = CannedRun.healthy()
        run.fault(1, "pause", at: 1005, targets: ["wacore1"], shards: [0], healAt: 1006)
        run.failedSend(shard: 0, at: 1030)
        #expect(try Checker.shardAvailability.check(run.load())?.verdict == .fail)
    }
}

@Suite struct FailoverMeasureTests {
    static let expectation = FailoverExpectation(shard: 0, line: 9, faultID: 1, faultAt: 1010, previousOwner: "wacore1", minimum: 25, maximum: 45)

    /// wacore1 killed at 1010 (real), declared unhealthy at 1013; wacore2 promoted at
    /// `promotedAt` and connected 0.3 s later (nil: no successor).
    func run(promotedAt: Double?) -> CannedRun {
        var run = CannedRun.healthy()
        run.event("master1", .coreappUnhealthy(hostname: "wacore1", shard: 0, path: "heartbeat", reason: "silent"), at: 1013)
        if let promotedAt {
            run.event("wacore2", .becameOwner(shard: 0, epoch: 2), at: promotedAt)
            run.event("wacore2", .gatewayConnected(shard: 0, epoch: 2), at: promotedAt + 0.3)
        }
        run.meta.failovers = [Self.expectation]
        return run
    }

    @Test func measuresDetectionAndRecoveryFromTheEvents() throws {
        let c = try #require(Checker.failoverWindows.check(try run(promotedAt: 1013.2).load()))
        #expect(c.verdict == .pass, "\(c.reason)")
        #expect(abs((c.figures["line9_recovery_logical"] ?? 0) - 35) < 0.01)
    }

    @Test func aRecoveryOutsideTheWindowFailsAndNoSuccessorFails() throws {
        #expect(try Checker.failoverWindows.check(run(promotedAt: 1019).load())?.verdict == .fail)
        let c = try #require(Checker.failoverWindows.check(try run(promotedAt: nil).load()))
        #expect(c.verdict == .fail && c.reason.contains("no new connected owner"))
    }
}

@Suite struct ClusterViewTests {
    func events(_ list: [(String, ClusterEvent, Double)]) -> [NodeEvent] {
        list.map { NodeEvent(ts: $0.2, logical: $0.2 * 10, node: $0.0, event: $0.1.name, fields: $0.1.fields) }
    }

    @Test func aPausedPrimaryIsNotPrimaryOnceAHigherTermIsWon() {
        // master1 was paused: it never logs the loss, so its latest line still says acquired.
        let view = ClusterView(events: events([("master1", .leaseAcquired(term: 1, validFor: 10), 1), ("master2", .leaseAcquired(term: 2, validFor: 10), 12)]),
                               deaths: [:], scale: 0.1)
        #expect(view.primary(at: 5) == "master1")
        #expect(view.primary(at: 13) == "master2")
    }

    @Test func aPausedOwnerSortingAfterItsSuccessorLosesTheShard() {
        let view = ClusterView(events: events([("wacore3", .becameOwner(shard: 2, epoch: 1), 1), ("wacore1", .becameOwner(shard: 2, epoch: 2), 20),
                                               ("wacore1", .gatewayConnected(shard: 2, epoch: 2), 20.06)]), deaths: [:], scale: 0.1)
        #expect(view.owner(of: 2, at: 10)?.node == "wacore3")
        #expect(view.owner(of: 2, at: 21)?.node == "wacore1")
        #expect(view.owner(of: 2, at: 21)?.connectedAt == 20.06)
    }

    @Test func aDeathEndsAnInterval() {
        let view = ClusterView(events: events([("wacore1", .becameOwner(shard: 0, epoch: 1), 1)]), deaths: ["wacore1": [5]], scale: 0.1)
        #expect(view.owner(of: 0, at: 4)?.node == "wacore1")
        #expect(view.owner(of: 0, at: 6) == nil)
    }
}

@Suite struct ClusterEventTests {
    @Test func everyEventRoundTripsThroughItsLogFields() {
        let all: [ClusterEvent] = [.nodeStarted(role: "coreapp"), .leaseAcquired(term: 3, validFor: 9.5), .leaseLost(reason: "x", validFor: -2),
                                   .becamePrimaryMaster(term: 2), .becameSecondaryMaster(primary: "m1"), .becameSecondaryMaster(primary: nil),
                                   .becameOwner(shard: 1, epoch: 4), .becameStandby(shard: 1, reason: "demoted"), .becameStandby(shard: nil, reason: nil),
                                   .gatewayConnected(shard: 0, epoch: 2), .gatewayDisconnected(shard: 0, reason: "bye"),
                                   .coreappUnhealthy(hostname: "wacore1", shard: 0, path: "db", reason: "stale"), .shardReleased(shard: 3)]
        for e in all { #expect(ClusterEvent(name: e.name, fields: e.fields) == e, "\(e)") }
        #expect(ClusterEvent(name: "lease_acquired", fields: [:]) == nil)
        #expect(ClusterEvent(name: "log", fields: [:]) == nil)
    }

    @Test func aHistoryLineThatIsNotAnOperationNamesItsLine() throws {
        let path = NSTemporaryDirectory() + "bad-history-\(UUID().uuidString).jsonl"
        try Data("{\"x\":1}\n".utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: RunRecordError.self) { try HistoryRecorder.read(path: path) }
    }
}
