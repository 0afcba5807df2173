import Foundation

/// What one `upgrade` step did, as the runner saved it (SPEC §13).
public struct UpgradeRecord: Codable, Equatable, Sendable {
    public var line: Int
    public var to: String
    public var strategy: String
    /// The order the nodes moved in (the printed plan); empty when dbupgrade failed.
    public var plan: [String]
    public var seed: UInt64?
    /// Real unix seconds: the step's start (dbupgrade's start) and end (the last node serving).
    public var startedAt: Double
    public var endedAt: Double
    public var dbupgradeExit: Int32
    public var dbupgradeSeconds: Double
    /// dbupgrade's last line: why, when it failed.
    public var dbupgradeLine: String
    /// The scenario asked dbupgrade to fail (test-only switch).
    public var dbupgradeExpectedToFail: Bool
    /// Each node's move to the new build, in order.
    public var moves: [Move]
    public var handovers: [Handover]
    /// The longest a shard may go without an accepted send, real seconds (nil: not bounded).
    public var maxUnavailableReal: Double?

    public struct Move: Codable, Equatable, Sendable {
        public var node: String
        public var from: String
        public var to: String
        /// When the old process was asked to stop, and when the new one had started.
        public var stoppedAt: Double
        public var startedAt: Double
        public init(node: String, from: String, to: String, stoppedAt: Double, startedAt: Double) {
            self.node = node; self.from = from; self.to = to; self.stoppedAt = stoppedAt; self.startedAt = startedAt
        }
    }

    public struct Handover: Codable, Equatable, Sendable {
        public var shard: Int
        public var from: String
        public var to: String
        public var released: Bool
        /// Real seconds from the request until the new owner held the lease (nil: not seen).
        public var acquiredAfter: Double?
        public init(shard: Int, from: String, to: String, released: Bool, acquiredAfter: Double?) {
            self.shard = shard; self.from = from; self.to = to; self.released = released; self.acquiredAfter = acquiredAfter
        }
    }

    public init(line: Int, to: String, strategy: String, plan: [String] = [], seed: UInt64? = nil, startedAt: Double, endedAt: Double,
                dbupgradeExit: Int32, dbupgradeSeconds: Double, dbupgradeLine: String, dbupgradeExpectedToFail: Bool = false,
                moves: [Move] = [], handovers: [Handover] = [], maxUnavailableReal: Double? = nil) {
        self.line = line; self.to = to; self.strategy = strategy; self.plan = plan; self.seed = seed
        self.startedAt = startedAt; self.endedAt = endedAt
        self.dbupgradeExit = dbupgradeExit; self.dbupgradeSeconds = dbupgradeSeconds; self.dbupgradeLine = dbupgradeLine
        self.dbupgradeExpectedToFail = dbupgradeExpectedToFail; self.moves = moves; self.handovers = handovers; self.maxUnavailableReal = maxUnavailableReal
    }
}

extension Checker {
    /// What each upgrade cost: per shard the longest stretch without an accepted send between
    /// the upgrade's start and end (measured from the completions of client sends, so a send
    /// held while its shard moved counts), judged against `max_unavailable` when the scenario
    /// sets one; dbupgrade's exit code and time; the handovers. A dbupgrade that failed must
    /// have been asked to (and then no node may have moved).
    public static let upgradeCost = Checker("upgrade cost") { run in
        guard let upgrades = run.meta.upgrades, !upgrades.isEmpty else { return nil }
        var figures: [String: Double] = [:]
        var parts: [String] = [], failures: [String] = [], unknown: [String] = []
        for (i, u) in upgrades.enumerated() {
            let tag = upgrades.count == 1 ? "" : "upgrade \(i + 1) "
            figures["\(tag)dbupgrade_exit"] = Double(u.dbupgradeExit)
            figures["\(tag)dbupgrade_seconds"] = (u.dbupgradeSeconds * 1000).rounded() / 1000
            let db = String(format: "dbupgrade exited %d in %.2fs", u.dbupgradeExit, u.dbupgradeSeconds)
            if u.dbupgradeExit != 0 {
                if !u.dbupgradeExpectedToFail { failures.append("\(tag)\(db): \(u.dbupgradeLine)") }
                else if !u.moves.isEmpty { failures.append("\(tag)\(db) but \(u.moves.count) node(s) were moved anyway") }
                else { parts.append("\(tag)\(db) as asked (\(u.dbupgradeLine)); no node moved") }
                continue
            }
            if u.dbupgradeExpectedToFail { failures.append("\(tag)dbupgrade was asked to fail and exited 0") }
            let gaps = UpgradeCost.longestGaps(run.sends, shards: run.meta.shards, from: u.startedAt, to: u.endedAt)
            for (shard, gap) in gaps.sorted(by: { $0.key < $1.key }) {
                figures["\(tag)shard\(shard)_unavailable_real"] = (gap * 1000).rounded() / 1000
                if let bound = u.maxUnavailableReal, gap > bound {
                    failures.append(String(format: "%@shard %d had no accepted send for %.3fs during the %@ upgrade (bound %.3fs)", tag, shard, gap, u.strategy, bound))
                }
            }
            if gaps.isEmpty { unknown.append("\(tag)no client send during the upgrade to measure its unavailability by") }
            for h in u.handovers {
                if let a = h.acquiredAfter { figures["\(tag)handover_shard\(h.shard)_real"] = a }
                else { failures.append("\(tag)the handover of shard \(h.shard) (\(h.from) → \(h.to)) did not end with the new owner holding the lease") }
                if !h.released { failures.append("\(tag)\(h.from) did not release shard \(h.shard) when asked: the handover waited out its lease") }
            }
            let worst = gaps.values.max() ?? 0
            parts.append(String(format: "%@%@: %@; %d node(s) moved in %.2fs; longest per-shard unavailability %.3fs%@",
                                tag, u.strategy, db, u.moves.count, u.endedAt - u.startedAt, worst,
                                u.handovers.isEmpty ? "" : "; handovers " + u.handovers.map { h in
                                    "shard \(h.shard) \(h.from)→\(h.to) " + (h.acquiredAfter.map { String(format: "%.3fs", $0) } ?? "(not seen)") + (h.released ? "" : " (fenced by lease)")
                                }.joined(separator: ", ")))
        }
        let bounds = upgrades.compactMap(\.maxUnavailableReal).first.map { String(format: "unavailable ≤ %.3f real s per shard", $0) }
        if !failures.isEmpty {
            return CheckResult(name: "upgrade cost", line: upgrades.first?.line, verdict: .fail, reason: failures.joined(separator: "; "), figures: figures, bounds: bounds)
        }
        if !unknown.isEmpty {
            return CheckResult(name: "upgrade cost", line: upgrades.first?.line, verdict: .unknown, reason: (parts + unknown).joined(separator: "; "), figures: figures, bounds: bounds)
        }
        return CheckResult(name: "upgrade cost", line: upgrades.first?.line, verdict: .pass, reason: parts.joined(separator: "; "), figures: figures, bounds: bounds)
    }
}

/// The upgrade's unavailability figure, a pure function of the client sends.
public enum UpgradeCost {
    /// Per shard, the longest real time between the window's start and its first accepted
    /// send's completion, between consecutive completions, and from the last to the window's
    /// end. A shard with sends but none accepted in the window (or a shard of the boot count
    /// with none at all, once any shard had one) was unavailable for the whole window.
    public static func longestGaps(_ sends: [Send], shards: Int, from: Double, to: Double) -> [Int: Double] {
        var completions: [Int: [Double]] = [:]
        for s in sends {
            guard let shard = s.shard else { continue }
            if completions[shard] == nil { completions[shard] = [] }
            if s.outcome == .ok, let done = s.completion?.ts { completions[shard]!.append(done) }
        }
        guard !completions.isEmpty else { return [:] }
        for shard in 0..<shards where completions[shard] == nil { completions[shard] = [] }
        var out: [Int: Double] = [:]
        for (shard, times) in completions {
            let inside = times.filter { $0 >= from && $0 <= to }.sorted()
            let edges = [from] + inside + [to]
            out[shard] = zip(edges, edges.dropFirst()).map { $1 - $0 }.max()!
        }
        return out
    }
}
