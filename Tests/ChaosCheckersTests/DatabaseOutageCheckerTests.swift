import ChaosCheckers
import Foundation
import Testing
import WACore

/// `answers while the database is away`, over canned runs with a fault on the db.
@Suite("Database outage answers")
struct DatabaseOutageCheckerTests {
    /// A healthy run with the db cut off from 1010 to 1012, and `refusals` in it.
    func run(_ refusals: [(status: Int?, error: String, took: Double)]) -> CannedRun {
        var r = CannedRun.healthy()
        r.fault(1, "partition", at: 1010, targets: ["wacore1", "db"], shards: [0], healAt: 1012)
        r.sends(30, from: 1013, prefix: "after")
        for (i, x) in refusals.enumerated() {
            let t = 1010.1 + Double(i) * 0.05
            r.op("client-3", .invoke, t) { $0.shard = 0 }
            r.op("client-3", x.status == 504 || x.error.contains("may or may not") ? .info : .fail, t + x.took) {
                $0.shard = 0; $0.status = x.status; $0.error = x.error
            }
        }
        return r
    }

    func judge(_ r: CannedRun) throws -> CheckResult? { Checker.databaseOutageAnswers.check(try r.load()) }

    @Test func documentedRefusalsWithinTheBoundPass() throws {
        let result = try #require(try judge(run([
            (503, "1023: the database is unreachable; the message was not accepted; retry", 0.02),
            (503, "1023: the database did not confirm the message in time; it may or may not have been accepted", 1.0),
            (503, "1018: this coreapp (wacore1) does not own a shard right now; retry", 0.01),
            (504, "1011: the primary coreapp of shard 0 did not answer in time; the message may or may not have been accepted", 2.0),
        ])))
        #expect(result.verdict == .pass, "\(result.reason)")
        #expect(result.figures["refused_during_db_faults"] == 4)
        #expect(result.reason.contains("503/1023 ×2"), "\(result.reason)")
    }

    @Test func a500IsOutsideTheContract() throws {
        let result = try #require(try judge(run([(500, "1023: could not store the message: disk I/O error", 0.02)])))
        #expect(result.verdict == .fail)
        #expect(result.reason.contains("500/1023"), "\(result.reason)")
    }

    @Test func noAnswerAtAllIsOutsideTheContract() throws {
        let result = try #require(try judge(run([(nil, "timed out after 10.0s", 10)])))
        #expect(result.verdict == .fail)
        #expect(result.reason.contains("no HTTP answer"), "\(result.reason)")
    }

    @Test func aRefusalSlowerThanTheBoundFails() throws {
        // At scale 0.1 the bound is 2 × (1 s + 2 s) + 1 s of slack = 7 s real.
        #expect(ClusterTimings.standard.sendAnswerBoundReal(scale: try TimeScale(0.1)) == 6)
        let result = try #require(try judge(run([(503, "1023: the database is unreachable", 7.5)])))
        #expect(result.verdict == .fail)
        #expect(result.reason.contains("after 7.50s real"), "\(result.reason)")
    }

    /// A send made just before the cut waits on the database through it: its answer counts.
    @Test func aSendOpenWhenTheFaultBeganIsJudgedToo() throws {
        var r = run([])
        r.op("client-4", .invoke, 1009.9) { $0.shard = 0 }
        r.op("client-4", .fail, 1010.5) { $0.shard = 0; $0.status = 500; $0.error = "1014: internal error" }
        let result = try #require(try judge(r))
        #expect(result.verdict == .fail, "\(result.reason)")
        #expect(result.reason.contains("500/1014"), "\(result.reason)")
    }

    @Test func aRunWithoutADatabaseFaultIsNotJudged() throws {
        var r = CannedRun.healthy()
        r.fault(1, "kill", at: 1010, targets: ["wacore1"], shards: [0])
        if let judged = try judge(r) { Issue.record("judged a run without a database fault: \(judged.reason)") }
    }

    @Test func tooFewSendsDuringTheFaultIsUnknown() throws {
        var r = CannedRun.healthy()
        r.meta.workloadTo = 1060
        r.fault(1, "kill", at: 1055, targets: ["db"], shards: [-1], healAt: 1055.5)
        let result = try #require(try judge(r))
        #expect(result.verdict == .unknown, "\(result.reason)")
    }
}
