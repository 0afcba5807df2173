import WACore

/// The stretches of time in which this node could not read the database, as it saw them.
///
/// DB-based monitoring judges a coreapp by the age of its heartbeat row. While the database is
/// away nobody can write that row, so after a long outage every row is old and a plain age test
/// would fail every owner over at once (a failover storm on data nobody could write). The
/// monitor therefore counts only the time this master could read the database: a row is as old
/// as the readable time since it was written. An outage of the coreapp alone (the master reads
/// fine) still ages its row at full speed, as the product documents.
///
/// An outage is counted from the last success before the first failure (the latest instant the
/// database was known to answer) to the first success after it: never shorter than it was.
public struct DatabaseOutageLedger: Equatable, Sendable {
    public struct Outage: Equatable, Sendable {
        public var from: LogicalInstant
        /// nil while the outage lasts.
        public var to: LogicalInstant?
    }

    /// Outages that ended within `horizon` seconds, oldest first, and the current one if any.
    public private(set) var outages: [Outage] = []
    private var lastSuccess: LogicalInstant?
    /// How far back outages are kept: older ones cannot change a verdict any more.
    public let horizon: Double

    public init(horizon: Double) { self.horizon = horizon }

    /// True while the latest call failed.
    public var isUnreadable: Bool { outages.last.map { $0.to == nil } ?? false }

    public mutating func succeeded(at now: LogicalInstant) {
        if let last = outages.last, last.to == nil { outages[outages.count - 1].to = now }
        lastSuccess = now
        outages.removeAll { $0.to.map { now - $0 > horizon } ?? false }
    }

    public mutating func failed(at now: LogicalInstant) {
        guard !isUnreadable else { return }
        // Before the first success the node has not read anything yet: nothing to discount.
        guard let since = lastSuccess else { return }
        outages.append(Outage(from: since, to: nil))
    }

    /// Seconds of `[from, to]` during which the database could not be read.
    public func unreadable(from: LogicalInstant, to: LogicalInstant) -> Double {
        guard to > from else { return 0 }
        return outages.reduce(0) { sum, o in
            let start = max(o.from, from), end = min(o.to ?? to, to)
            return end > start ? sum + (end - start) : sum
        }
    }
}
