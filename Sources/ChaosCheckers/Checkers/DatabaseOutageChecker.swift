import Foundation
import WACore

extension Checker {
    /// The answers `POST /v1/messages` may give while it cannot store a message (README, "The
    /// cluster without its database"): 503 with 1023 (the database failed or did not confirm),
    /// 1018 (the owner let its shard go) or 1011 (no owner right now), or a 504 whose outcome is
    /// unknown. Anything else (a 500, a 4xx, no answer at all) breaks the contract.
    public static let databaseOutageRefusals: Set<String> = ["503/1023", "503/1018", "503/1011", "504/1011"]

    /// While a fault had the database as a target (and for the recovery allowance after it),
    /// every send open then that was not accepted got one of the documented refusals within the
    /// answer bound. That nothing accepted was lost is `noLoss`'s part.
    public static let databaseOutageAnswers = Checker("answers while the database is away") { run in
        let name = "answers while the database is away"
        let faults = run.faults.filter { $0.targets.contains(ClusterNodeNames.database) }
        let sends = run.sends
        guard !faults.isEmpty, !sends.isEmpty else { return nil }
        let scale = (try? TimeScale(run.meta.timeScale)) ?? .realTime
        let bound = ClusterTimings.standard.sendAnswerBoundReal(scale: scale) + run.meta.slackReal
        // Every send that was open at some time of a fault's window, also one sent just before
        // the fault and answered during it (it waited on the database the fault took away).
        let during = sends.filter { s in
            faults.contains { f in s.invoke.ts <= (f.end ?? run.runEnd) + run.recoveryReal && (s.completion?.ts ?? run.runEnd) >= f.start }
        }
        var answers: [String: Int] = [:]
        var wrong: [String] = []
        var slowest = 0.0
        for s in during where s.outcome != .ok {
            guard let c = s.completion else { wrong.append("a send at \(run.relative(s.invoke.ts)) had no answer when the run ended"); continue }
            let code = c.error.flatMap { $0.split(separator: ":", maxSplits: 1).first.map(String.init) } ?? "-"
            let answer = c.status.map { "\($0)/\(code)" } ?? "no HTTP answer"
            answers[answer, default: 0] += 1
            let took = c.ts - s.invoke.ts
            slowest = max(slowest, took)
            if !databaseOutageRefusals.contains(answer) {
                wrong.append("\(answer) at \(run.relative(s.invoke.ts)): \((c.error ?? "").prefix(100))")
            } else if took > bound {
                wrong.append(String(format: "%@ after %.2fs real (bound %.2fs) at %@", answer, took, bound, run.relative(s.invoke.ts)))
            }
        }
        let accepted = during.filter { $0.outcome == .ok }.count
        let refused = during.count - accepted
        let summary = answers.sorted { $0.value > $1.value }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
        let figures: [String: Double] = ["sends_during_db_faults": Double(during.count), "accepted_during_db_faults": Double(accepted),
                                         "refused_during_db_faults": Double(refused), "slowest_refusal_real": slowest]
        if !wrong.isEmpty {
            return CheckResult(name: name, line: nil, verdict: .fail,
                               reason: "\(wrong.count) answer(s) outside the contract: " + wrong.prefix(4).joined(separator: "; "), figures: figures)
        }
        if during.count < run.meta.minSendsPerFault {
            return CheckResult(name: name, line: nil, verdict: .unknown,
                               reason: "only \(during.count) send(s) during database faults (threshold \(run.meta.minSendsPerFault))", figures: figures)
        }
        return CheckResult(name: name, line: nil, verdict: .pass,
                           reason: String(format: "%d send(s) during %d database fault(s): %d accepted, %d not%@; slowest refusal %.2fs real (bound %.2fs)",
                                          during.count, faults.count, accepted, refused, refused > 0 ? " (\(summary))" : "", slowest, bound),
                           figures: figures)
    }
}
