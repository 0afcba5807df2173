import ChaosCheckers
import Foundation
import WACore
import WAStoreSQLite
import WATestKit

/// Faults on the database node and what the runner measures around them (SPEC §12).
extension ScenarioRunner {
    var databaseName: String { ClusterNodeNames.database }

    /// A started database is back only once it accepts work (PostgreSQL after crash recovery).
    func waitUntilServing(_ name: String) async throws {
        guard name == databaseName else { return }
        try await cluster.waitForDatabase(timeout: 60)
    }

    /// Resumes a paused db and, at the end of the timeline, starts a killed or stopped one, so
    /// the cluster can drain what it accepted.
    func bringDatabaseBack(startIfDown: Bool, line: Int?) async {
        guard cluster.nodes[databaseName] != nil, let process = cluster.process(databaseName) else { return }
        if process.isAlive, activeFaults.values.contains(where: { $0.healedBy == "pause:\(databaseName)" }) {
            cluster.resume(databaseName)
            lived(databaseName, .running)
            heal("pause:\(databaseName)", f: "resume", value: "SIGCONT \(databaseName)", line: line)
        } else if !process.isAlive, startIfDown {
            do {
                try cluster.start(databaseName)
                try await waitUntilServing(databaseName)
                lived(databaseName, .running)
                heal("process:\(databaseName)", f: "start", value: "start \(databaseName) (end of the timeline)", line: line)
                note("step", "started \(databaseName): the cluster drains through it")
            } catch {
                note("step", "could not start \(databaseName) again: \(error)")
            }
        }
    }

    /// `db_lock: {for: S}`: holds the SQLite file's write lock for S logical seconds, then lets go.
    func holdDatabaseLock(logicalSeconds: Double, line: Int) async throws {
        guard cluster.layout.database.engine == .sqlite, cluster.hasDatabaseProcess else {
            throw RunnerError("db_lock holds the SQLite write lock, which only the embedded engine has; this run uses \(cluster.layout.database.engine.scenarioName) (on PostgreSQL, pause: db)")
        }
        // Waiting for a writer that holds the lock now: at most one database operation.
        let lock = try SQLiteWriteLock(path: cluster.dbPath, timeout: max(ClusterTimings.databaseOperationFloorReal, real(ClusterTimings.standard.databaseOperation)))
        let id = inject("db_lock", "db_lock: the runner holds the SQLite write lock for \(Int(logicalSeconds)) logical s", targets: [databaseName],
                        healedBy: "db_lock", line: line) {}
        defer { lock.release() }
        try await ScaledSystemClock(scale: try TimeScale(scale)).sleep(logicalSeconds: logicalSeconds)
        lock.release()
        heal("db_lock", f: "db_lock", value: "released the SQLite write lock", line: line, ids: [id])
        note("step", "released the SQLite write lock")
    }

    /// `expect_recovery`: from the moment the database came back, the cluster must be healthy
    /// within the bound (the product's `databaseRecoveryBoundReal`, unless `within`).
    func expectRecovery(within: Double?, line: Int) async throws {
        let name = "expect_recovery"
        guard let back = databaseBackAt else {
            record(CheckResult(name: name, line: line, verdict: .unknown, reason: "no fault on the database was healed before this step"))
            return
        }
        let boundReal = try within.map { real($0) } ?? ClusterTimings.standard.databaseRecoveryBoundReal(scale: TimeScale(scale))
        let deadline = back + boundReal + options.slackReal
        // Keep looking past the deadline (twice the bound) so a failure says how late it was.
        let giveUp = deadline + boundReal + 5
        var healthyAt: Double?
        while now() < giveUp {
            if let h = try? await cluster.health(timeout: 3), isHealthy(h) { healthyAt = now(); break }
            try await Polling.pause(seconds: 0.05)
        }
        let boundText = String(format: "0...%.1f logical s (%.2fs real%@, slack %.1fs)", boundReal / scale, boundReal,
                               within == nil ? ": deadline, re-dial, lease, 3 ticks" : "", options.slackReal)
        guard let healthyAt else {
            record(CheckResult(name: name, line: line, verdict: .fail,
                               reason: String(format: "not healthy %.1f real s after the database came back", now() - back), bounds: boundText))
            return
        }
        let took = healthyAt - back
        let ok = healthyAt <= deadline
        note("step", String(format: "healthy %.1f logical s (%.2fs real) after the database came back", took / scale, took))
        record(CheckResult(name: name, line: line, verdict: ok ? .pass : .fail,
                           reason: String(format: "healthy %.1f logical s (%.2fs real) after the database came back%@", took / scale, took,
                                          ok ? "" : "; later than the bound"),
                           figures: ["db_recovery_logical": took / scale, "db_recovery_real": took], bounds: boundText))
    }
}
