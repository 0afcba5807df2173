import Testing
@testable import WAStorePostgres

final class FakeConnection {
    let n: Int
    init(_ n: Int) { self.n = n }
}

@Suite("ConnectionPoolState")
struct ConnectionPoolStateTests {
    @Test func opensLazilyUpToTheLimitThenQueues() {
        var pool = ConnectionPoolState<FakeConnection>(limit: 2)
        guard case (.open, nil) = pool.acquire() else { Issue.record("first request should open"); return }
        guard case (.open, nil) = pool.acquire() else { Issue.record("second request should open"); return }
        guard case (.wait, let w?) = pool.acquire() else { Issue.record("third request should wait"); return }
        #expect(pool.opened == 2 && pool.waiters == [w])
    }

    @Test func aReleasedConnectionGoesToTheFirstWaiterThenToIdle() {
        var pool = ConnectionPoolState<FakeConnection>(limit: 1)
        _ = pool.acquire()
        let (_, w1) = pool.acquire()
        let (_, w2) = pool.acquire()
        let c = FakeConnection(1)
        guard case .handTo(let first, let handed) = pool.release(c, healthy: true) else { Issue.record("not handed on"); return }
        #expect(first == w1 && handed === c)
        guard case .handTo(let second, _) = pool.release(c, healthy: true) else { Issue.record("not handed on"); return }
        #expect(second == w2)
        guard case .idle = pool.release(c, healthy: true) else { Issue.record("not idle"); return }
        #expect(pool.idle.count == 1 && pool.opened == 1)
        guard case (.use(let again), nil) = pool.acquire() else { Issue.record("idle connection not reused"); return }
        #expect(again === c && pool.idle.isEmpty)
    }

    @Test func aBrokenConnectionFreesItsSlotOrLetsAWaiterOpenANewOne() {
        var pool = ConnectionPoolState<FakeConnection>(limit: 1)
        _ = pool.acquire()
        let (_, w) = pool.acquire()
        guard case .openFor(let waiter) = pool.release(FakeConnection(1), healthy: false) else { Issue.record("waiter not told to open"); return }
        #expect(waiter == w && pool.opened == 1)
        guard case .none = pool.release(FakeConnection(2), healthy: false) else { Issue.record("a broken connection was kept"); return }
        #expect(pool.opened == 0 && pool.idle.isEmpty)
    }

    @Test func aFailedOpenFreesItsSlot() {
        var pool = ConnectionPoolState<FakeConnection>(limit: 1)
        _ = pool.acquire()
        guard case .none = pool.openFailed() else { Issue.record("expected nothing to do"); return }
        #expect(pool.opened == 0)
        guard case (.open, _) = pool.acquire() else { Issue.record("the slot was not freed"); return }
    }

    @Test func aWaiterThatGaveUpIsSkipped() {
        var pool = ConnectionPoolState<FakeConnection>(limit: 1)
        _ = pool.acquire()
        let (_, w1) = pool.acquire()
        let (_, w2) = pool.acquire()
        let first = pool.cancel(waiter: w1!)
        let again = pool.cancel(waiter: w1!)
        #expect(first && !again)
        guard case .handTo(let next, _) = pool.release(FakeConnection(1), healthy: true) else { Issue.record("not handed on"); return }
        #expect(next == w2)
    }

    @Test func drainingClosesIdleConnectionsAndFreesTheirSlots() {
        var pool = ConnectionPoolState<FakeConnection>(limit: 3)
        for _ in 0..<3 { _ = pool.acquire() }
        for i in 0..<3 { _ = pool.release(FakeConnection(i), healthy: true) }
        #expect(pool.drainIdle().count == 3)
        #expect(pool.opened == 0 && pool.idle.isEmpty)
    }

    @Test func neverMoreThanTheLimitUnderARandomWorkload() {
        var pool = ConnectionPoolState<FakeConnection>(limit: 4)
        var rng = SystemRandomNumberGenerator()
        var inUse: [FakeConnection] = []
        var opening = 0
        var waiting: [Int] = []
        var made = 0
        for _ in 0..<5_000 {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0:
                switch pool.acquire() {
                case (.use(let c), _): inUse.append(c)
                case (.open, _): opening += 1
                case (.wait, let w?): waiting.append(w)
                case (.wait, nil): Issue.record("a waiter without an id")
                }
            case 1 where opening > 0:
                opening -= 1
                if Bool.random(using: &rng) { made += 1; inUse.append(FakeConnection(made)) } else {
                    if case .openFor(let w) = pool.openFailed() { waiting.removeAll { $0 == w }; opening += 1 }
                }
            case 2 where !inUse.isEmpty:
                let c = inUse.removeLast()
                switch pool.release(c, healthy: Int.random(in: 0..<10, using: &rng) > 0) {
                case .handTo(let w, let conn): waiting.removeAll { $0 == w }; inUse.append(conn)
                case .openFor(let w): waiting.removeAll { $0 == w }; opening += 1
                case .idle, .none: break
                }
            case 3 where !waiting.isEmpty:
                let w = waiting.removeFirst()
                let cancelled = pool.cancel(waiter: w)
                #expect(cancelled)
            default: break
            }
            #expect(pool.opened <= pool.limit)
            #expect(pool.opened == inUse.count + opening + pool.idle.count, "the pool lost track of a connection")
            #expect(pool.waiters == waiting)
        }
    }
}
