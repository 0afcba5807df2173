import Foundation
import Testing
import WACore
import WAStore
@testable import WAStoreSQLite

/// The db node's WAL is checkpointed beside the writer, not inside its commits.
@Suite("WAL checkpoints")
struct WALCheckpointerTests {
    @Test func aCheckpointIsAskedForOncePerThresholdOfPagesAndNeverWhileOneRuns() {
        var s = CheckpointSchedule(every: 1000)
        func after(_ sizes: [Int32]) -> [Bool] { sizes.map { s.committed(walPages: $0) } }
        #expect(after([10, 999, 1000, 1500]) == [false, false, true, false], "asked at 1000 pages, not again while it runs")
        s.finished()
        // It could not reset the WAL (only a writer can): the next waits for 1000 pages more.
        #expect(after([1800, 1999, 2000]) == [false, false, true])
        s.finished()
        // The writer reset the WAL: counting starts over.
        #expect(after([5, 999, 1000]) == [false, false, true])
    }

    /// SQLite's own automatic checkpoint is replaced by the hook: what the writer commits still
    /// reaches the database file, and the WAL is reused instead of growing.
    @Test func committedPagesReachTheDatabaseFileWithoutTheWriterCheckpointing() async throws {
        let dir = NSTemporaryDirectory() + "wal-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/cluster.db"
        let source = try SQLiteConnectionSource(path: path, clock: ManualClock())
        try await source.withConnection { c in _ = try c.execute("CREATE TABLE filler(body TEXT)", []) }
        func size(_ file: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: file))?[.size] as? Int) ?? 0 }
        let before = size(path)
        let row = String(repeating: "x", count: 16_000)  // four pages a row
        func commit(rows: Int) async throws {
            try await source.withConnection { c in
                try c.writeTransaction { for _ in 0..<rows { _ = try c.execute("INSERT INTO filler(body) VALUES (?)", [.text(row)]) } }
            }
        }
        // Commits of about 80 pages until one crosses 1,000 WAL pages and its checkpoint has run.
        var commits = 0
        while size(path) <= before, commits < 40 {
            try await commit(rows: 20)
            commits += 1
            await source.drainCheckpoints()
        }
        #expect((11...14).contains(commits), "the checkpoint came after \(commits) commits of 80 pages")
        #expect(await source.checkpointsRun() == 1, "the checkpointer ran it, not the writer's automatic checkpoint")
        #expect(size(path) > before + 3_000_000, "the checkpointer copied the frames into \(path)")
        // Everything is copied: the writer's next transaction starts the WAL over instead of growing it.
        let walBefore = size(path + "-wal")
        for _ in 0..<10 { try await commit(rows: 1) }
        #expect(size(path + "-wal") <= walBefore, "the WAL grew from \(walBefore) to \(size(path + "-wal")) bytes")
        let rows = try await source.withConnection { c in try c.query("SELECT count(*) FROM filler", []) }
        #expect(rows.first?.first == .int(Int64(commits * 20 + 10)))
    }
}
