import Testing
import WACore
@testable import WACoordination

@Suite("DatabaseOutageLedger")
struct DatabaseOutageLedgerTests {
    @Test func anOutageRunsFromTheLastSuccessBeforeItToTheFirstSuccessAfterIt() {
        var l = DatabaseOutageLedger(horizon: 180)
        l.succeeded(at: t(10))
        l.failed(at: t(11))
        l.failed(at: t(12))          // still the same outage
        #expect(l.isUnreadable)
        l.succeeded(at: t(40))
        #expect(!l.isUnreadable)
        #expect(l.outages == [.init(from: t(10), to: t(40))])
        #expect(l.unreadable(from: t(0), to: t(100)) == 30)
        #expect(l.unreadable(from: t(20), to: t(100)) == 20, "only the part inside the interval counts")
        #expect(l.unreadable(from: t(50), to: t(100)) == 0)
    }

    @Test func anOutageStillGoingCountsUpToNow() {
        var l = DatabaseOutageLedger(horizon: 180)
        l.succeeded(at: t(5))
        l.failed(at: t(6))
        #expect(l.unreadable(from: t(0), to: t(65)) == 60)
    }

    @Test func failuresBeforeAnySuccessAreNotAnOutage() {
        // A node that has never read the database has no rows to discount.
        var l = DatabaseOutageLedger(horizon: 180)
        l.failed(at: t(1))
        #expect(!l.isUnreadable)
        #expect(l.unreadable(from: t(0), to: t(10)) == 0)
    }

    @Test func outagesOlderThanTheHorizonAreForgotten() {
        var l = DatabaseOutageLedger(horizon: 100)
        l.succeeded(at: t(0)); l.failed(at: t(1)); l.succeeded(at: t(10))
        l.succeeded(at: t(50)); l.failed(at: t(51)); l.succeeded(at: t(60))
        #expect(l.outages.count == 2)
        l.succeeded(at: t(111))
        #expect(l.outages == [.init(from: t(50), to: t(60))])
    }

    @Test func severalOutagesAddUp() {
        var l = DatabaseOutageLedger(horizon: 1000)
        l.succeeded(at: t(0)); l.failed(at: t(1)); l.succeeded(at: t(10))
        l.succeeded(at: t(20)); l.failed(at: t(21)); l.succeeded(at: t(25))
        #expect(l.unreadable(from: t(0), to: t(30)) == 15)
    }
}

@Suite("CoreappMonitor after a database outage")
struct CoreappMonitorOutageTests {
    let monitor = CoreappMonitor(heartbeatInterval: 5, unhealthyInterval: 30, timings: .standard)

    /// The primary read the database until t=100, could not until t=250, and reads it again.
    var outage: DatabaseOutageLedger {
        var l = DatabaseOutageLedger(horizon: 180)
        l.succeeded(at: t(100)); l.failed(at: t(101)); l.succeeded(at: t(250))
        return l
    }

    @Test func aRowNobodyCouldWriteDuringTheOutageIsNotStale() {
        // Written at t=50: 200 s old by the wall, 50 readable seconds.
        let v = monitor.verdict(for: "c1", now: t(250), own: HeartbeatLedger(), peers: [], dbHeartbeat: t(50),
                                registeredAt: t(0), outages: outage)
        #expect(v == nil)
        #expect(monitor.readableAge(since: t(50), now: t(250), outages: outage) == 50)
        #expect(monitor.isPromotable("c1", now: t(250), own: answered(at: t(249)), dbHeartbeat: t(50), outages: outage))
        // The same row judged without the outage ledger: the storm the ledger prevents.
        #expect(monitor.verdict(for: "c1", now: t(250), own: HeartbeatLedger(), peers: [], dbHeartbeat: t(50), registeredAt: t(0))
                == .database(heartbeatAge: 200, limit: 120))
    }

    @Test func aRowThatStaysOldWhileTheDatabaseIsReadableStillFailsOver() {
        // After the outage the row keeps ageing: 50 readable seconds before it, 71 after.
        let v = monitor.verdict(for: "c1", now: t(321), own: HeartbeatLedger(), peers: [], dbHeartbeat: t(50),
                                registeredAt: t(0), outages: outage)
        #expect(v == .database(heartbeatAge: 121, limit: 120))
    }

    @Test func aCoreappThatAloneCannotWriteIsFailedOverAfterTheWindow() {
        // The master reads fine (no outage), the coreapp's row is 121 s old.
        let clean = DatabaseOutageLedger(horizon: 180)
        #expect(monitor.verdict(for: "c1", now: t(221), own: HeartbeatLedger(), peers: [], dbHeartbeat: t(100),
                                registeredAt: t(0), outages: clean) == .database(heartbeatAge: 121, limit: 120))
    }

    @Test func aCoreappThatNeverWroteARowIsJudgedOnReadableTimeToo() {
        #expect(monitor.verdict(for: "c1", now: t(250), own: HeartbeatLedger(), peers: [], dbHeartbeat: nil,
                                registeredAt: t(90), outages: outage) == nil)
        #expect(monitor.verdict(for: "c1", now: t(361), own: HeartbeatLedger(), peers: [], dbHeartbeat: nil,
                                registeredAt: t(90), outages: outage) == .neverHeartbeated(limit: 120))
    }

    func answered(at instant: LogicalInstant) -> HeartbeatLedger {
        var l = HeartbeatLedger()
        l.answered("c1", sentAt: instant)
        return l
    }
}
