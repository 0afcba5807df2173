import Foundation
import LoadGenerator
import NIOPosix
import WACore
import WAStore
import WAStoreSQLite

/// Baselines `wachaos bench messages` measures in the same run, so its figures compare across
/// machines as ratios: what fraction of the webapp's own speed and of the disk's commit rate
/// the message path keeps.
enum BenchBaselines {
    /// The same load generator against the webapp's cheapest answer: an unknown path (routing,
    /// the middlewares, a 404 error body; no token check, no database, no RPC). Answers/s.
    static func cheapestRoute(port: Int, connections: Int, pipelineDepth: Int, duration: Double, warmup: Double) async throws -> (perSecond: Double, answers: Int) {
        let plan = LoadPlan(host: "127.0.0.1", port: port, connections: connections, pipelineDepth: pipelineDepth,
                            duration: .milliseconds(Int(duration * 1000)), warmup: .milliseconds(Int(warmup * 1000)),
                            maxRequests: nil, targetRate: nil)
        let template = RequestTemplate(method: "GET", path: "/v1/bench-baseline-unknown-route", headers: []) { _ in [] }
        let r = try await LoadRunner.run(plan, template, group: MultiThreadedEventLoopGroup.singleton)
        return (r.answerRate, r.completed)
    }

    /// One writer committing `batch` rows per transaction to a scratch SQLite file in `directory`
    /// (the db node's connection settings, the same disk) for `duration` seconds.
    static func sqliteGroupCommit(directory: String, batch: Int, duration: Double) async throws -> (commitsPerSecond: Double, rowsPerSecond: Double) {
        let path = directory + "/baseline-\(UUID().uuidString).db"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let source = try SQLiteConnectionSource(path: path, clock: ScaledSystemClock(scale: .realTime))
        try await source.withConnection { c in try c.executeScript("CREATE TABLE IF NOT EXISTS baseline(id INTEGER PRIMARY KEY, body TEXT NOT NULL)") }
        let start = ContinuousClock.now
        let end = start + .milliseconds(Int(duration * 1000))
        var commits = 0
        while ContinuousClock.now < end {
            try await source.withConnection { c in
                try c.writeTransaction {
                    for i in 0..<batch { try c.execute("INSERT INTO baseline(body) VALUES (?)", [.text("bench \(i)")]) }
                }
            }
            commits += 1
        }
        let elapsed = start.duration(to: .now)
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return (Double(commits) / seconds, Double(commits * batch) / seconds)
    }
}
