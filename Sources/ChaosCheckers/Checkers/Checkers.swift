import Foundation
import WACore

/// A check over a saved run: a pure function of the run's files. `nil` means the check does not
/// apply to this run (no workload, no account); an applicable check with too little evidence
/// answers unknown, never pass.
public struct Checker: Sendable {
    public let name: String
    public let check: @Sendable (RunRecord) -> CheckResult?
    public init(_ name: String, _ check: @escaping @Sendable (RunRecord) -> CheckResult?) { self.name = name; self.check = check }

    /// Every checker `wachaos recheck` and the end of a live run apply, in report order.
    public static let standard: [Checker] = [.noLoss, .noDuplicate, .statusesDelivered, .noConflict, .singlePrimary, .shardAvailability, .databaseOutageAnswers, .failoverWindows, .upgradeCost]

    /// Runs every checker; the results of those that apply.
    public static func judge(_ run: RunRecord, with checkers: [Checker] = standard) -> [CheckResult] {
        checkers.compactMap { $0.check(run) }
    }
}

extension RunRecord {
    /// Real seconds after a fault during which its shards may still fail sends: the heartbeat
    /// failover bound plus slack.
    var recoveryReal: Double { meta.recoveryAllowance * meta.timeScale + meta.slackReal }
    var runEnd: Double { meta.endedAt }
    func relative(_ t: Double) -> String { String(format: "+%.2fs", t - meta.startedAt) }

    /// Accepted sends invoked while each fault was active (at least the recovery allowance):
    /// the faults whose window holds fewer than the vacuity threshold. A fault on the database
    /// refuses sends for as long as it lasts, so its evidence is what was accepted in the
    /// recovery allowance before it (in flight across it) and after it (sent once it is back).
    func thinFaultWindows(_ sends: [Send]) -> [(FaultWindow, Int)] {
        guard let from = meta.workloadFrom, let to = meta.workloadTo, meta.minSendsPerFault > 0 else { return [] }
        return faults.compactMap { f in
            let onDatabase = f.targets.contains(ClusterNodeNames.database)
            let lo = max(onDatabase ? f.start - recoveryReal : f.start, from)
            let hi = min(onDatabase ? (f.end ?? runEnd) + recoveryReal : max(f.end ?? runEnd, f.start + recoveryReal), to)
            guard hi > lo else { return nil }
            let n = sends.filter { $0.outcome == .ok && $0.invoke.ts >= lo && $0.invoke.ts <= hi }.count
            return n < meta.minSendsPerFault ? (f, n) : nil
        }
    }
}

extension Checker {
    /// Every `ok` send reached the WhatsApp server; `info` sends are counted apart.
    public static let noLoss = Checker("no accepted message lost") { run in
        let sends = run.sends
        guard !sends.isEmpty else { return nil }
        let ok = sends.filter { $0.outcome == .ok }
        let arrivals = run.arrivals
        let ids = ok.compactMap { $0.completion?.id }
        let missing = ids.filter { arrivals[$0] == nil }
        let info = sends.filter { $0.outcome == .info }
        let failed = sends.filter { $0.outcome == .fail }.count
        let figures: [String: Double] = ["sent": Double(sends.count), "ok": Double(ok.count), "fail": Double(failed),
                                         "info": Double(info.count), "lost": Double(missing.count),
                                         "gateway_arrivals": Double(arrivals.count)]
        if !missing.isEmpty {
            let examples = missing.prefix(3).map { id -> String in
                let s = ok.first { $0.completion?.id == id }!
                return "\(id) (shard \(s.shard.map(String.init) ?? "?"), accepted \(run.relative(s.end)))"
            }
            return CheckResult(name: "no accepted message lost", line: nil, verdict: .fail,
                               reason: "\(missing.count) of \(ok.count) accepted message(s) never reached the WhatsApp server, e.g. \(examples.joined(separator: ", "))",
                               figures: figures)
        }
        if ok.isEmpty {
            return CheckResult(name: "no accepted message lost", line: nil, verdict: .unknown,
                               reason: "no send was accepted (\(failed) refused, \(info.count) without answer): nothing to prove", figures: figures)
        }
        let thin = run.thinFaultWindows(sends)
        if !thin.isEmpty {
            let text = thin.map { "fault \($0.0.id) (\($0.0.value) at \(run.relative($0.0.start))) saw \($0.1) accepted sends" }.joined(separator: "; ")
            return CheckResult(name: "no accepted message lost", line: nil, verdict: .unknown,
                               reason: "all \(ok.count) accepted messages arrived, but the evidence is too thin (threshold \(run.meta.minSendsPerFault) per fault window): \(text)",
                               figures: figures)
        }
        let infoArrived = info.filter { s in s.invoke.key.map { k in ok.contains { $0.invoke.key == k } } ?? false }.count
        return CheckResult(name: "no accepted message lost", line: nil, verdict: .pass,
                           reason: "all \(ok.count) accepted messages reached the WhatsApp server; \(failed) refused, \(info.count) with unknown outcome (\(infoArrived) of them later accepted under the same key)",
                           figures: figures)
    }

    /// No message id reached the WhatsApp server twice, and no idempotency key got two ids.
    public static let noDuplicate = Checker("no duplicated message") { run in
        let sends = run.sends
        guard !sends.isEmpty else { return nil }
        let arrivals = run.arrivals
        let twice = arrivals.filter { $0.value.count > 1 }.sorted { $0.key < $1.key }
        var idsByKey: [String: Set<String>] = [:]
        for s in sends where s.outcome == .ok { if let k = s.invoke.key, let id = s.completion?.id { idsByKey[k, default: []].insert(id) } }
        let splitKeys = idsByKey.filter { $0.value.count > 1 }.sorted { $0.key < $1.key }
        let figures: [String: Double] = ["duplicated": Double(twice.count), "keys_with_two_ids": Double(splitKeys.count)]
        if !twice.isEmpty || !splitKeys.isEmpty {
            var parts: [String] = []
            if !twice.isEmpty {
                parts.append("\(twice.count) id(s) reached the WhatsApp server more than once, e.g. " + twice.prefix(3).map { id, lines in
                    "\(id) ×\(lines.count) (sessions \(lines.compactMap { $0["session"]?.intValue }.map(String.init).joined(separator: ", ")))"
                }.joined(separator: "; "))
            }
            if !splitKeys.isEmpty { parts.append("\(splitKeys.count) idempotency key(s) were accepted under two ids, e.g. \(splitKeys[0].key): \(splitKeys[0].value.sorted())") }
            return CheckResult(name: "no duplicated message", line: nil, verdict: .fail, reason: parts.joined(separator: "; "), figures: figures)
        }
        if arrivals.isEmpty {
            return CheckResult(name: "no duplicated message", line: nil, verdict: .unknown,
                               reason: "the gateway journal holds no message, so duplicates cannot be counted", figures: figures)
        }
        return CheckResult(name: "no duplicated message", line: nil, verdict: .pass,
                           reason: "\(arrivals.count) message id(s) at the WhatsApp server, each once (counted from the journal, not deduplicated)", figures: figures)
    }

    /// Every message that reached the WhatsApp server has its `sent` status at the webhook, in
    /// time: after the later of its arrival and the end of any fault active between its arrival
    /// and the time its status was due (a database cut just after the ack holds the status
    /// back), within the failover allowance, the ack timeout and two callback retries.
    public static let statusesDelivered = Checker("statuses reach the webhook") { run in
        let sends = run.sends
        guard !sends.isEmpty else { return nil }
        let accepted = Set(sends.compactMap { $0.outcome == .ok ? $0.completion?.id : nil })
        var firstSent: [String: Double] = [:]
        for r in run.webhook { for s in r.statuses where s.status == "sent" && firstSent[s.id] == nil { firstSent[s.id] = r.ts } }
        let faults = run.faults
        let allowance = (run.meta.recoveryAllowance + 2 * run.meta.callbackBackoff + 7) * run.meta.timeScale + run.meta.slackReal
        var missing: [String] = [], late: [(String, Double)] = []
        var worst = 0.0
        for (id, lines) in run.arrivals where accepted.contains(id) {
            let arrived = lines.compactMap { $0["ts"]?.numberValue }.min() ?? run.meta.startedAt
            let faultEnd = faults.filter { $0.start <= arrived + allowance && ($0.end ?? run.runEnd) >= arrived }.map { $0.end ?? run.runEnd }.max() ?? arrived
            guard let at = firstSent[id] else { missing.append(id); continue }
            let wait = at - max(arrived, faultEnd)
            worst = max(worst, at - arrived)
            if wait > allowance { late.append((id, wait)) }
        }
        let figures: [String: Double] = ["delivered": Double(firstSent.keys.filter(accepted.contains).count), "without_status": Double(missing.count),
                                         "late": Double(late.count), "worst_real": worst, "allowance_real": allowance]
        if !missing.isEmpty || !late.isEmpty {
            var parts: [String] = []
            if !missing.isEmpty { parts.append("\(missing.count) message(s) at the WhatsApp server have no 'sent' status at the webhook, e.g. \(missing.sorted().prefix(3))") }
            if !late.isEmpty { parts.append(String(format: "%d status(es) came later than %.2fs real after the message and its faults, e.g. %@ after %.2fs", late.count, allowance, late[0].0, late[0].1)) }
            return CheckResult(name: "statuses reach the webhook", line: nil, verdict: .fail, reason: parts.joined(separator: "; "), figures: figures)
        }
        if accepted.isEmpty {
            return CheckResult(name: "statuses reach the webhook", line: nil, verdict: .unknown, reason: "no accepted send to follow", figures: figures)
        }
        return CheckResult(name: "statuses reach the webhook", line: nil, verdict: .pass,
                           reason: String(format: "every accepted message at the WhatsApp server has its 'sent' status at the webhook (%d receipts; slowest %.2fs real, allowance %.2fs after faults end)",
                                          run.webhook.count, worst, allowance),
                           figures: figures)
    }

    /// The WhatsApp server never saw two live connections for one number and shard.
    public static let noConflict = Checker("no gateway conflict") { run in
        guard run.meta.registered else { return nil }
        let conflicts = run.journal.filter { $0["event"]?.stringValue == "conflict" }
        let connects = run.journal.filter { $0["event"]?.stringValue == "connect" }.count
        if !conflicts.isEmpty {
            return CheckResult(name: "no gateway conflict", line: nil, verdict: .fail,
                               reason: "conflicts: " + conflicts.map { c in
                                   "shard \(c["shard"]?.intValue ?? -1): \(c["live_node"]?.stringValue ?? "?") (epoch \(c["live_epoch"]?.intValue ?? -1)) was live when \(c["new_node"]?.stringValue ?? "?") (epoch \(c["new_epoch"]?.intValue ?? -1)) connected at \(run.relative(c["ts"]?.numberValue ?? 0))"
                               }.joined(separator: "; "),
                               figures: ["conflicts": Double(conflicts.count)])
        }
        if connects == 0 {
            return CheckResult(name: "no gateway conflict", line: nil, verdict: .unknown,
                               reason: "the gateway journal shows no connection at all, so conflicts cannot be ruled out", figures: ["conflicts": 0])
        }
        return CheckResult(name: "no gateway conflict", line: nil, verdict: .pass, reason: "\(connects) gateway connections, no conflict",
                           figures: ["conflicts": 0, "connections": Double(connects)])
    }

    /// At most one master held the lease at any instant (terms from the events).
    public static let singlePrimary = Checker("single primary master") { run in
        guard !run.meta.masters.isEmpty else { return nil }
        let view = ClusterView(events: run.events, deaths: run.meta.deaths, scale: run.meta.timeScale)
        let overlaps = view.overlappingTerms
        let reused = Dictionary(grouping: view.terms, by: \.term).filter { Set($0.value.map(\.master)).count > 1 }
        if !overlaps.isEmpty || !reused.isEmpty {
            var parts = overlaps.prefix(3).map { a, b, d in
                String(format: "%@ (term %d) and %@ (term %d) both primary for %.3fs from %@", a.master, a.term, b.master, b.term, d, run.relative(b.from))
            }
            parts += reused.keys.sorted().map { "term \($0) was won by \(Set(reused[$0]!.map(\.master)).sorted().joined(separator: " and "))" }
            return CheckResult(name: "single primary master", line: nil, verdict: .fail, reason: parts.joined(separator: "; "),
                               figures: ["primary_terms": Double(view.terms.count), "overlaps": Double(overlaps.count)])
        }
        if view.terms.isEmpty {
            return CheckResult(name: "single primary master", line: nil, verdict: .unknown, reason: "no master ever logged a lease", figures: ["primary_terms": 0])
        }
        return CheckResult(name: "single primary master", line: nil, verdict: .pass,
                           reason: "\(view.terms.count) primary term(s) (\(view.terms.map { "\($0.master)#\($0.term)" }.joined(separator: ", "))), never two at once",
                           figures: ["primary_terms": Double(view.terms.count)])
    }

    /// Per shard, the windows of failed sends, each matched to a fault that touched that shard;
    /// a shard no fault touched must show none.
    public static let shardAvailability = Checker("per-shard availability") { run in
        let sends = run.sends
        guard !sends.isEmpty else { return nil }
        let faults = run.faults
        let slack = run.meta.slackReal
        var lines: [String] = [], unmatched: [String] = []
        var figures: [String: Double] = [:]
        let shards = Set(sends.compactMap(\.shard)).sorted()
        for shard in shards {
            let mine = sends.filter { $0.shard == shard }
            // Maximal runs of sends that did not succeed.
            var windows: [(from: Double, to: Double, count: Int)] = []
            var current: (from: Double, to: Double, count: Int)?
            for s in mine {
                if s.outcome == .ok { if let c = current { windows.append(c); current = nil }; continue }
                current = current.map { ($0.from, max($0.to, s.end), $0.count + 1) } ?? (s.invoke.ts, s.end, 1)
            }
            if let c = current { windows.append(c) }
            figures["shard\(shard)_failed_windows"] = Double(windows.count)
            figures["shard\(shard)_unavailable_real"] = windows.reduce(0) { $0 + ($1.to - $1.from) }
            for w in windows {
                let cause = faults.first { f in
                    (f.shards.contains(shard) || f.shards.contains(-1)) && w.from >= f.start - slack && w.from <= (f.end ?? run.runEnd) + run.recoveryReal
                }
                let text = String(format: "shard %d failed %d send(s) %@…%@ (%.2fs)", shard, w.count, run.relative(w.from), run.relative(w.to), w.to - w.from)
                if let cause { lines.append(text + " ← fault \(cause.id) (\(cause.value))") } else { unmatched.append(text) }
            }
        }
        let untouched = shards.filter { s in !faults.contains { $0.shards.contains(s) || $0.shards.contains(-1) } }
        if !unmatched.isEmpty {
            return CheckResult(name: "per-shard availability", line: nil, verdict: .fail,
                               reason: "failed sends no fault explains: " + unmatched.prefix(4).joined(separator: "; ")
                                   + (untouched.isEmpty ? "" : " (shards no fault touched: \(untouched.map(String.init).joined(separator: ", ")))"),
                               figures: figures)
        }
        let thin = shards.filter { s in sends.filter { $0.shard == s }.count < run.meta.minSendsPerFault }
        if !thin.isEmpty {
            return CheckResult(name: "per-shard availability", line: nil, verdict: .unknown,
                               reason: "too few sends to judge shard(s) \(thin.map(String.init).joined(separator: ", ")) (threshold \(run.meta.minSendsPerFault))", figures: figures)
        }
        return CheckResult(name: "per-shard availability", line: nil, verdict: .pass,
                           reason: lines.isEmpty ? "no send failed on any of \(shards.count) shard(s)"
                                                 : lines.prefix(6).joined(separator: "; ") + (untouched.isEmpty ? "" : "; shard(s) \(untouched.map(String.init).joined(separator: ", ")) untouched and never failed"),
                           figures: figures)
    }

    /// Every `expect_failover` step, re-measured from the events.
    public static let failoverWindows = Checker("failover windows") { run in
        guard !run.meta.failovers.isEmpty else { return nil }
        let results = run.meta.failovers.map { FailoverMeasure.measure($0, events: run.events, meta: run.meta) }
        let worst: Verdict = results.contains { $0.verdict == .fail } ? .fail : (results.contains { $0.verdict == .unknown } ? .unknown : .pass)
        var figures: [String: Double] = [:]
        for r in results { for (k, v) in r.figures { figures["line\(r.line ?? 0)_\(k)"] = v } }
        return CheckResult(name: "failover windows", line: nil, verdict: worst,
                           reason: results.map { "line \($0.line ?? 0): \($0.verdict.rawValue) — \($0.reason)" }.joined(separator: "; "), figures: figures)
    }
}

/// Measures one failover from the node events: detection (the master's unhealthy verdict on the
/// old owner, or its release) and recovery (a new owner of the shard connected to the gateway),
/// both from the fault that took the old owner away.
public enum FailoverMeasure {
    public static func measure(_ x: FailoverExpectation, events: [NodeEvent], meta: RunMeta) -> CheckResult {
        let name = "expect_failover shard \(x.shard)"
        let scale = meta.timeScale
        let slackLogical = meta.slackReal / scale
        let lo = x.minimum - slackLogical, hi = x.maximum + slackLogical
        let bounds = String(format: "%.1f...%.1f logical s (window %.0f...%.0f ± %.1fs real slack)", lo, hi, x.minimum, x.maximum, meta.slackReal)
        let after = events.filter { $0.ts >= x.faultAt }
        let detection = after.first { e in
            switch e.typed {
            case .coreappUnhealthy(let host, let shard, _, _): return host == x.previousOwner && shard == x.shard
            case .shardReleased(let shard): return e.node == x.previousOwner && shard == x.shard
            default: return false
            }
        }
        let view = ClusterView(events: events, deaths: meta.deaths, scale: scale)
        let successor = view.ownerships.filter { $0.shard == x.shard && $0.node != x.previousOwner && $0.from >= x.faultAt && $0.connectedAt != nil }
            .min { $0.connectedAt! < $1.connectedAt! }
        guard let successor, let connected = successor.connectedAt else {
            return CheckResult(name: name, line: x.line, verdict: .fail,
                               reason: "shard \(x.shard) (was \(x.previousOwner)) had no new connected owner within \(String(format: "%.1f", hi)) logical s"
                                   + (detection == nil ? "; no master declared \(x.previousOwner) unhealthy" : "; detected but not recovered"),
                               bounds: bounds)
        }
        let recovery = (connected - x.faultAt) / scale
        var figures: [String: Double] = ["recovery_real": connected - x.faultAt, "recovery_logical": recovery]
        var problems: [String] = []
        if let d = detection {
            figures["detection_real"] = d.ts - x.faultAt
            figures["detection_logical"] = (d.ts - x.faultAt) / scale
            if !(lo...hi).contains((d.ts - x.faultAt) / scale) { problems.append(String(format: "detection %.1f logical s is outside the bounds", (d.ts - x.faultAt) / scale)) }
        }
        if !(lo...hi).contains(recovery) { problems.append(String(format: "recovery %.1f logical s is outside the bounds", recovery)) }
        let path: String = {
            if case .coreappUnhealthy(_, _, let p, _)? = detection?.typed { return p ?? "?" }
            return detection == nil ? "?" : "release"
        }()
        let summary = String(format: "%@ -> %@ (epoch %d) via %@: detection %@, recovery %.1f logical s (%.2fs real)", x.previousOwner, successor.node, successor.epoch, path,
                             figures["detection_logical"].map { String(format: "%.1f logical s", $0) } ?? "not logged", recovery, connected - x.faultAt)
        if !problems.isEmpty {
            return CheckResult(name: name, line: x.line, verdict: .fail, reason: summary + "; " + problems.joined(separator: "; "), figures: figures, bounds: bounds)
        }
        if detection == nil {
            return CheckResult(name: name, line: x.line, verdict: .unknown, reason: summary + "; no detection event found", figures: figures, bounds: bounds)
        }
        return CheckResult(name: name, line: x.line, verdict: .pass, reason: summary, figures: figures, bounds: bounds)
    }
}
