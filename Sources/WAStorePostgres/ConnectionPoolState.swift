/// The decisions of a bounded connection pool, with no IO: the shell asks it what to do and does
/// it (as postgres-nio's pool does). Connections are opened lazily up to `limit`; a request
/// that finds every connection busy waits in line; a connection that broke is not reused.
struct ConnectionPoolState<Connection: AnyObject> {
    enum Acquire { case use(Connection), open, wait }
    enum Release { case handTo(waiter: Int, Connection), idle, openFor(waiter: Int), none }

    let limit: Int
    private(set) var idle: [Connection] = []
    /// Connections that exist or are being opened.
    private(set) var opened = 0
    private(set) var waiters: [Int] = []
    private var nextWaiter = 0

    init(limit: Int) {
        precondition(limit > 0, "a pool needs room for one connection")
        self.limit = limit
    }

    /// A request arrives: reuse an idle connection, open a new one, or wait (`waiterID` then
    /// names it for `cancel`).
    mutating func acquire() -> (Acquire, waiterID: Int?) {
        if let c = idle.popLast() { return (.use(c), nil) }
        if opened < limit { opened += 1; return (.open, nil) }
        nextWaiter += 1
        waiters.append(nextWaiter)
        return (.wait, nextWaiter)
    }

    /// A request is done with its connection; `healthy: false` drops it (it broke or timed out).
    mutating func release(_ c: Connection, healthy: Bool) -> Release {
        guard healthy else { return connectionGone() }
        if !waiters.isEmpty { return .handTo(waiter: waiters.removeFirst(), c) }
        idle.append(c)
        return .idle
    }

    /// Opening a connection failed: its slot is free again, for a waiter if there is one.
    mutating func openFailed() -> Release { connectionGone() }

    /// A waiter gave up (its deadline passed); true when it was still waiting.
    mutating func cancel(waiter: Int) -> Bool {
        guard let i = waiters.firstIndex(of: waiter) else { return false }
        waiters.remove(at: i)
        return true
    }

    /// Every idle connection, for closing (the database went away, or shutdown).
    mutating func drainIdle() -> [Connection] {
        let all = idle
        idle = []
        opened -= all.count
        return all
    }

    private mutating func connectionGone() -> Release {
        if !waiters.isEmpty { return .openFor(waiter: waiters.removeFirst()) }
        opened -= 1
        return .none
    }
}

extension ConnectionPoolState: Sendable where Connection: Sendable {}
extension ConnectionPoolState.Acquire: Sendable where Connection: Sendable {}
extension ConnectionPoolState.Release: Sendable where Connection: Sendable {}
