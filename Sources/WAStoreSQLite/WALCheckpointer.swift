import CSQLite
import Dispatch
import WACore

/// Checkpoints the db node's WAL on a connection and a thread of their own. SQLite's automatic
/// checkpoint runs inside the commit that crosses the threshold, on the only writer, and waits
/// for two `fsync`s there; every storage call queued behind it waited too. Measured under the
/// message benchmark: 183 syncs in 10 s held the writer for 1.06 s, a tenth of the run, while
/// the cluster's CPUs idled. A PASSIVE checkpoint here copies the committed frames into the
/// database file beside the writer, which only appends to the WAL meanwhile. Durability does not
/// change: a commit is in the WAL before the db node answers (synchronous=NORMAL), as before.
final class WALCheckpointer: Sendable {
    /// SQLite's own default threshold, in WAL pages.
    static let pagesBeforeCheckpoint: Int32 = 1000
    /// The WAL is only reset once a checkpoint has copied all of it, which one beside a busy
    /// writer rarely manages (frames arrive while it syncs): past this many pages the writer
    /// checkpoints itself, as SQLite's automatic checkpoint does. The WAL stays bounded (about
    /// 40 MB), and that checkpoint has only the last pages left to copy: under the message
    /// benchmark the writer waits for the disk once per 10,000 pages instead of once per 1,000.
    static let pagesBeforeWriterCheckpoints: Int32 = 10 * pagesBeforeCheckpoint

    private let queue: DispatchQueue
    /// The checkpointing connection's address: used only on `queue`.
    private let handle: UInt
    private let schedule = Locked(CheckpointSchedule(every: pagesBeforeCheckpoint))
    private let completed = Locked(0)
    /// Checkpoints that ran to the end (SQLITE_OK) so far.
    var runs: Int { completed.value }

    init(path: String) throws {
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw SQLiteError(code: rc, message: message, statement: "open \(path) for checkpoints")
        }
        // The syncs a checkpoint owes happen here: the WAL before frames are copied, the
        // database file after.
        sqlite3_exec(db, "PRAGMA synchronous=NORMAL", nil, nil, nil)
        handle = UInt(bitPattern: db)
        queue = DispatchQueue(label: "sqlite-checkpoint:\(path)")
    }

    deinit {
        // Behind a checkpoint still running; the block holds the queue, not this object.
        let handle = handle
        queue.async { sqlite3_close(OpaquePointer(bitPattern: handle)) }
    }

    /// Called by the writer's hook after each commit with the WAL's size; returns at once.
    func committed(walPages pages: Int32) {
        guard schedule.withLock({ $0.committed(walPages: pages) }) else { return }
        let handle = handle, schedule = schedule, completed = completed
        queue.async {
            // PASSIVE: never waits for the writer or readers, so it cannot stall them.
            if sqlite3_wal_checkpoint_v2(OpaquePointer(bitPattern: handle), nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil) == SQLITE_OK {
                completed.withLock { $0 += 1 }
            }
            schedule.withLock { $0.finished() }
        }
    }

    /// Returns once every checkpoint asked for so far has run (tests).
    func drain() { queue.sync {} }

    /// Hands the writer's checkpoints to `checkpointer`: SQLite's automatic one is replaced by
    /// this hook, which asks for a checkpoint once the WAL holds `pagesBeforeCheckpoint` pages.
    static func install(on writer: OpaquePointer, _ checkpointer: WALCheckpointer) {
        sqlite3_wal_hook(writer, { context, db, _, pages in
            if pages >= WALCheckpointer.pagesBeforeWriterCheckpoints {
                sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            } else if let context {
                Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue().committed(walPages: pages)
            }
            return SQLITE_OK
        }, Unmanaged.passUnretained(checkpointer).toOpaque())
    }
}

/// When the writer asks for a checkpoint: once every `every` WAL pages written, and never while
/// one is queued or running. A checkpoint beside the writer cannot reset the WAL (only a writer
/// can, once everything is copied), so the size it reports may stay above the threshold; asking
/// at every commit then would run checkpoints back to back, two `fsync`s each.
struct CheckpointSchedule {
    let every: Int32
    private(set) var running = false
    private(set) var nextAt: Int32
    private var lastPages: Int32 = 0

    init(every: Int32) { self.every = every; nextAt = every }

    /// After a commit that left the WAL `pages` long: true when a checkpoint should start now.
    mutating func committed(walPages pages: Int32) -> Bool {
        if pages < lastPages { nextAt = every }  // the writer reset the WAL
        lastPages = pages
        guard !running, pages >= nextAt else { return false }
        running = true
        nextAt = pages + every
        return true
    }

    mutating func finished() { running = false }
}
