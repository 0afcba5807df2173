import WACore

/// Who was primary master and who owned each shard, and when, derived from terms and epochs in
/// the node events — never from each node's latest line: a paused node cannot log that it lost
/// its lease, so its last line still claims it. The term (master lease) or epoch (shard) that
/// is highest among those still open wins; an interval ends when its node says so (a loss,
/// bounded by the monotonic validity it logged), dies, or starts again.
public struct ClusterView: Sendable {
    public struct Term: Sendable, Equatable {
        public var master: String
        public var term: Int
        public var from: Double
        /// Nil while open.
        public var to: Double?
    }
    public struct Ownership: Sendable, Equatable {
        public var node: String
        public var shard: Int
        public var epoch: Int
        public var from: Double
        public var to: Double?
        /// When its gateway session for the shard first came up.
        public var connectedAt: Double?
    }

    public private(set) var terms: [Term] = []
    public private(set) var ownerships: [Ownership] = []

    /// `events` of every node (any order), `deaths` real times the runner killed or stopped a
    /// node, `scale` the time scale (validities are logged in logical seconds).
    public init(events: [NodeEvent], deaths: [String: [Double]], scale: Double) {
        var openTerm: [String: Int] = [:]       // master -> index in terms
        var openOwnership: [String: Int] = [:]  // coreapp -> index in ownerships
        let deathTimes = deaths.mapValues { $0.sorted() }
        func diedBetween(_ node: String, _ from: Double, _ to: Double) -> Double? {
            deathTimes[node]?.first { $0 >= from && $0 <= to }
        }
        func closeTerm(_ node: String, at: Double) {
            guard let i = openTerm.removeValue(forKey: node) else { return }
            terms[i].to = max(terms[i].from, diedBetween(node, terms[i].from, at) ?? at)
        }
        func closeOwnership(_ node: String, at: Double) {
            guard let i = openOwnership.removeValue(forKey: node) else { return }
            ownerships[i].to = max(ownerships[i].from, diedBetween(node, ownerships[i].from, at) ?? at)
        }
        for e in events.sorted(by: { $0.ts < $1.ts }) {
            guard let typed = e.typed else { continue }
            switch typed {
            case .nodeStarted:
                closeTerm(e.node, at: e.ts)
                closeOwnership(e.node, at: e.ts)
            case .leaseAcquired(let term, _):
                closeTerm(e.node, at: e.ts)
                openTerm[e.node] = terms.count
                terms.append(Term(master: e.node, term: term, from: e.ts, to: nil))
            case .leaseLost(_, let validFor):
                let end = validFor.map { min(e.ts, e.ts + $0 * scale) } ?? e.ts
                closeTerm(e.node, at: end)
            case .becameOwner(let shard, let epoch):
                closeOwnership(e.node, at: e.ts)
                openOwnership[e.node] = ownerships.count
                ownerships.append(Ownership(node: e.node, shard: shard, epoch: epoch, from: e.ts, to: nil, connectedAt: nil))
            case .becameStandby, .shardReleased:
                closeOwnership(e.node, at: e.ts)
            case .gatewayConnected(let shard, let epoch):
                if let i = openOwnership[e.node], ownerships[i].shard == shard, epoch == nil || epoch == ownerships[i].epoch,
                   ownerships[i].connectedAt == nil {
                    ownerships[i].connectedAt = e.ts
                }
            default: break
            }
        }
        // Still open: bounded by a later death, if the node never started again.
        for (node, i) in openTerm { if let d = diedBetween(node, terms[i].from, .infinity) { terms[i].to = d } }
        for (node, i) in openOwnership { if let d = diedBetween(node, ownerships[i].from, .infinity) { ownerships[i].to = d } }
    }

    /// The primary master at real time `t`: the highest term open then.
    public func primary(at t: Double) -> String? {
        terms.filter { $0.from <= t && ($0.to ?? .infinity) > t }.max { $0.term < $1.term }?.master
    }

    /// The owner of `shard` at real time `t`: the highest epoch open then.
    public func owner(of shard: Int, at t: Double) -> Ownership? {
        ownerships.filter { $0.shard == shard && $0.from <= t && ($0.to ?? .infinity) > t }.max { $0.epoch < $1.epoch }
    }

    /// Every shard's owner at `t`.
    public func owners(at t: Double) -> [Int: String] {
        var out: [Int: String] = [:]
        for s in Set(ownerships.map(\.shard)) { if let o = owner(of: s, at: t) { out[s] = o.node } }
        return out
    }

    /// Terms of different masters that overlap in time, with the overlap in real seconds.
    public var overlappingTerms: [(Term, Term, Double)] {
        var out: [(Term, Term, Double)] = []
        let sorted = terms.sorted { $0.from < $1.from }
        for (i, a) in sorted.enumerated() {
            for b in sorted[(i + 1)...] where b.master != a.master {
                let overlap = min(a.to ?? .infinity, b.to ?? .infinity) - b.from
                if overlap > 0.001 { out.append((a, b, overlap)) }
            }
        }
        return out
    }
}
