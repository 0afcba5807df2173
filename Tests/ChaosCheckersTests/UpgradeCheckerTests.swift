import ChaosCheckers
import Foundation
import Testing

/// The upgrade checker over saved runs: per-shard unavailability from the client sends, the
/// bound, and dbupgrade's outcome.
@Suite("Upgrade cost")
struct UpgradeCheckerTests {
    func upgrade(from: Double = 1020, to: Double = 1030, exit: Int32 = 0, expectFailure: Bool = false, bound: Double? = 1,
                 moves: Int = 5) -> UpgradeRecord {
        UpgradeRecord(line: 9, to: "new", strategy: "rolling", plan: ["waweb", "master2"], startedAt: from, endedAt: to,
                      dbupgradeExit: exit, dbupgradeSeconds: 0.42, dbupgradeLine: exit == 0 ? "" : "error DB_FAILED: refused",
                      dbupgradeExpectedToFail: expectFailure,
                      moves: (0..<moves).map { .init(node: "n\($0)", from: "old", to: "new", stoppedAt: from + Double($0), startedAt: from + Double($0) + 0.5) },
                      handovers: [.init(shard: 0, from: "wacore1", to: "wacore3", released: true, acquiredAfter: 0.12)], maxUnavailableReal: bound)
    }

    @Test func theLongestStretchWithoutAnAcceptedSendIsMeasuredPerShardAndBounded() throws {
        var run = CannedRun()
        run.meta.shards = 2
        run.sends(400, shard: 0, from: 1010, every: 0.05)              // steady through the upgrade
        run.sends(100, shard: 1, from: 1010, every: 0.05, prefix: "a")  // until 1015
        run.sends(200, shard: 1, from: 1024.5, every: 0.05, prefix: "b") // 1015…1024.5 without one: inside the window from 1020
        run.meta.upgrades = [upgrade()]
        let c = try #require(Checker.upgradeCost.check(try run.load()))
        #expect(c.verdict == .fail, "\(c.reason)")
        #expect(c.reason.contains("shard 1 had no accepted send for 4.505s"), "\(c.reason)")
        #expect((c.figures["shard0_unavailable_real"] ?? 9) < 0.06)
        #expect(c.figures["dbupgrade_exit"] == 0)
        #expect(c.figures["handover_shard0_real"] == 0.12)

        run.meta.upgrades = [upgrade(bound: 5)]
        let ok = try #require(Checker.upgradeCost.check(try run.load()))
        #expect(ok.verdict == .pass, "\(ok.reason)")
        #expect(ok.reason.contains("dbupgrade exited 0 in 0.42s") && ok.reason.contains("shard 0 wacore1→wacore3 0.120s"), "\(ok.reason)")
    }

    @Test func aHandoverThatWaitedOutTheLeaseOrNeverEndedFails() throws {
        var run = CannedRun()
        run.sends(400, from: 1010)
        var u = upgrade(bound: 5)
        u.handovers = [.init(shard: 0, from: "wacore1", to: "wacore3", released: false, acquiredAfter: 8.1)]
        run.meta.upgrades = [u]
        let c = try #require(Checker.upgradeCost.check(try run.load()))
        #expect(c.verdict == .fail && c.reason.contains("did not release shard 0"), "\(c.reason)")
        u.handovers = [.init(shard: 0, from: "wacore1", to: "wacore3", released: true, acquiredAfter: nil)]
        run.meta.upgrades = [u]
        #expect(try #require(Checker.upgradeCost.check(try run.load())).reason.contains("did not end with the new owner holding the lease"))
    }

    @Test func aFailedDBUpgradePassesOnlyWhenAskedForAndNothingMoved() throws {
        var run = CannedRun()
        run.sends(100, from: 1010)
        run.meta.upgrades = [upgrade(exit: 1, expectFailure: true, moves: 0)]
        let asked = try #require(Checker.upgradeCost.check(try run.load()))
        #expect(asked.verdict == .pass, "\(asked.reason)")
        #expect(asked.reason.contains("dbupgrade exited 1") && asked.reason.contains("no node moved"))
        run.meta.upgrades = [upgrade(exit: 1, expectFailure: false, moves: 0)]
        #expect(try #require(Checker.upgradeCost.check(try run.load())).verdict == .fail)
        run.meta.upgrades = [upgrade(exit: 1, expectFailure: true, moves: 2)]
        #expect(try #require(Checker.upgradeCost.check(try run.load())).verdict == .fail)
        run.meta.upgrades = [upgrade(exit: 0, expectFailure: true)]
        #expect(try #require(Checker.upgradeCost.check(try run.load())).verdict == .fail)
    }

    @Test func aWindowWithoutAcceptedSendsIsUnavailableThroughoutAndWithoutAnySendsTheCostIsUnknown() throws {
        var run = CannedRun()
        run.sends(20, from: 1001)
        run.meta.upgrades = [upgrade(from: 1040, to: 1045)]
        #expect(try #require(Checker.upgradeCost.check(try run.load())).verdict == .fail, "a window with no accepted send at all is 5 s unavailable")
        // A shard of the boot count whose every send failed (or that had none) counts whole.
        var dark = CannedRun()
        dark.meta.shards = 2
        dark.sends(400, shard: 0, from: 1010)
        dark.failedSend(shard: 1, at: 1022)
        dark.meta.upgrades = [upgrade(bound: 5)]
        let d = try #require(Checker.upgradeCost.check(try dark.load()))
        #expect(d.verdict == .fail && d.reason.contains("shard 1 had no accepted send for 10.000s"), "\(d.reason)")
        var quiet = CannedRun()
        quiet.meta.upgrades = [upgrade()]
        #expect(try #require(Checker.upgradeCost.check(try quiet.load())).verdict == .unknown)
        #expect(Checker.upgradeCost.check(try CannedRun().load()) == nil)
    }
}
