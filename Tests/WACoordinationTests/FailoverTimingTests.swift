import Testing
import WACore
@testable import WACoordination

/// Masters and one coreapp on a 1/8 s grid, driven like `MasterController`: every master ticks
/// every `tick` (each with its own phase), runs a heartbeat round when `h` has passed since
/// the last one (heartbeat tasks answer asynchronously, the report is written before the
/// round's answers arrive), and the primary judges the coreapp on every tick. The coreapp
/// writes its DB heartbeat every 60 s while alive.
struct FailoverTimingSimulation {
    struct Master {
        var id: String
        var phase: Int                     // in eighths of a second
        var isPrimary: Bool
        var diesAt: Double = .infinity
        var hears: (Double) -> Bool        // whether the coreapp answers a heartbeat sent at this time
        var lastRound: Double?
        var ledger = HeartbeatLedger()
    }

    var h: Double = 5
    var u: Double = 30
    var timings = ClusterTimings.standard
    var roundTrip: Double = 0.25
    var coreappDiesAt: Double = .infinity
    var coreappDBPhase: Double = 0
    var masters: [Master]

    /// Runs until `until` (seconds after the start); the first verdict and when it came.
    mutating func run(until: Double) -> (at: Double, reason: UnhealthyReason)? {
        let monitor = CoreappMonitor(heartbeatInterval: h, unhealthyInterval: u, timings: timings)
        var reports: [String: PeerReport] = [:]
        var answers: [(arrives: Double, master: Int, sentAt: Double)] = []
        let tickEighths = Int(timings.tick * 8)
        for k in 0...Int(until * 8) {
            let now = Double(k) / 8
            for a in answers where a.arrives <= now { masters[a.master].ledger.answered("c1", sentAt: t(a.sentAt)) }
            answers.removeAll { $0.arrives <= now }
            // The coreapp's DB row: the last write at or before now while alive.
            let lastWrite = coreappDBPhase + 60 * ((min(now, coreappDiesAt - 0.001) - coreappDBPhase) / 60).rounded(.down)
            for i in masters.indices where (k - masters[i].phase) % tickEighths == 0 && now < masters[i].diesAt {
                if masters[i].lastRound == nil || now - masters[i].lastRound! >= h {
                    masters[i].lastRound = now
                    if now - lastWrite <= timings.dbUnhealthyAfter {             // listed in the DB
                        masters[i].ledger.saw("c1", at: t(now))
                        if now < coreappDiesAt, masters[i].hears(now) { answers.append((now + roundTrip, i, now)) }
                    }
                    reports[masters[i].id] = PeerReport(masterID: masters[i].id, reportedAt: t(now), lastAnswered: masters[i].ledger.lastAnswered)
                }
                if masters[i].isPrimary {
                    let peers = reports.values.filter { $0.masterID != masters[i].id }
                    if let v = monitor.verdict(for: "c1", now: t(now), own: masters[i].ledger, peers: Array(peers),
                                               dbHeartbeat: t(lastWrite), registeredAt: t(0)) {
                        return (now, v)
                    }
                }
            }
        }
        return nil
    }

    static func twoMasters(primaryPhase: Int, secondaryPhase: Int) -> FailoverTimingSimulation {
        FailoverTimingSimulation(masters: [
            Master(id: "master1", phase: primaryPhase, isPrimary: true, hears: { _ in true }),
            Master(id: "master2", phase: secondaryPhase, isPrimary: false, hears: { _ in true }),
        ])
    }
}

@Suite("Failover timing (SPEC §10, detection part)")
struct FailoverTimingTests {
    @Test func aKilledOwnerIsDetectedWithinUMinusHAndUPlusTick() {
        var earliest = Double.infinity, latest = -Double.infinity, runs = 0
        for primaryPhase in [0, 3, 5] {
            for secondaryPhase in [0, 1, 7] {
                for j in 0..<10 {
                    var sim = FailoverTimingSimulation.twoMasters(primaryPhase: primaryPhase, secondaryPhase: secondaryPhase)
                    let t0 = 200 + Double(j) * 0.625        // 200 .. 205.625: every offset within a round
                    sim.coreappDiesAt = t0
                    guard let (at, reason) = sim.run(until: t0 + 60) else {
                        Issue.record("no detection (phases \(primaryPhase)/\(secondaryPhase), t0 \(t0))"); continue
                    }
                    let delay = at - t0
                    earliest = min(earliest, delay); latest = max(latest, delay); runs += 1
                    #expect(reason.path == "heartbeat")
                    #expect(delay >= sim.u - sim.h, "detected \(delay) s after the kill")
                    #expect(delay <= sim.u + sim.timings.tick, "detected \(delay) s after the kill")
                }
            }
        }
        print("heartbeat detection after a kill (h=5, u=30, tick=1): \(runs) runs, delay in [\(earliest), \(latest)] s")
    }

    @Test func aCoreappUnreachableFromOnlyThePrimaryIsNotFailedOver() {
        var sim = FailoverTimingSimulation.twoMasters(primaryPhase: 0, secondaryPhase: 4)
        sim.masters[0].hears = { $0 < 200 }
        #expect(sim.run(until: 600) == nil)
    }

    @Test func aCoreappUnreachableFromOnlyTheSecondaryIsNotFailedOver() {
        var sim = FailoverTimingSimulation.twoMasters(primaryPhase: 0, secondaryPhase: 4)
        sim.masters[1].hears = { $0 < 200 }
        #expect(sim.run(until: 600) == nil)
    }

    @Test func withOneMasterOnlyTheDBPathDetectsAKill() {
        var earliest = Double.infinity, latest = -Double.infinity
        for dbPhase in [0.0, 17, 42.5] {
            for t0 in [200.0, 215, 230.5, 259.875] {
                var sim = FailoverTimingSimulation(masters: [
                    .init(id: "master1", phase: 0, isPrimary: true, hears: { _ in true }),
                ])
                sim.coreappDBPhase = dbPhase
                sim.coreappDiesAt = t0
                guard let (at, reason) = sim.run(until: t0 + 200) else { Issue.record("no detection"); continue }
                let delay = at - t0
                earliest = min(earliest, delay); latest = max(latest, delay)
                #expect(reason.path == "db")
                // SPEC: [120 - 60, 120 + check period]
                #expect(delay >= sim.timings.dbUnhealthyAfter - sim.timings.dbHeartbeatPeriod)
                #expect(delay <= sim.timings.dbUnhealthyAfter + sim.timings.dbCheckPeriod)
            }
        }
        print("DB-based detection after a kill (one master): delay in [\(earliest), \(latest)] s")
    }

    @Test func aDeadSecondaryLeavesOnlyTheDBPath() {
        var sim = FailoverTimingSimulation.twoMasters(primaryPhase: 0, secondaryPhase: 2)
        sim.masters[1].diesAt = 150
        sim.coreappDiesAt = 200
        let result = sim.run(until: 400)
        #expect(result?.reason.path == "db")
        if let at = result?.at { #expect(at - 200 >= 60 && at - 200 <= 125) }
    }

    @Test func slowerHeartbeatsWidenTheWindowAsTheSpecSays() {
        // h = 10, u = 60
        var earliest = Double.infinity, latest = -Double.infinity
        for j in 0..<16 {
            var sim = FailoverTimingSimulation.twoMasters(primaryPhase: 0, secondaryPhase: 3)
            sim.h = 10; sim.u = 60
            let t0 = 300 + Double(j) * 0.625
            sim.coreappDiesAt = t0
            guard let (at, _) = sim.run(until: t0 + 100) else { Issue.record("no detection"); continue }
            earliest = min(earliest, at - t0); latest = max(latest, at - t0)
            #expect(at - t0 >= 50 && at - t0 <= 61)
        }
        print("heartbeat detection (h=10, u=60): delay in [\(earliest), \(latest)] s")
    }
}
