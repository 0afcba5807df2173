import CSQLite
import Foundation
import WACore
import WAStore

/// The write lock of a SQLite file, held from outside the db node: what an operator's `sqlite3`
/// shell in the middle of a transaction does to the cluster, the embedded engine's version of a
/// locked table. In WAL mode readers still read; every writer waits (the db node's busy handler)
/// until `release`.
public final class SQLiteWriteLock: Sendable {
    /// The open connection's address (0 once released): a plain integer keeps the class Sendable
    /// without `@unchecked`; only `init` and `release` turn it back into the handle.
    private let handle: Locked<UInt>
    public let path: String

    /// Opens the file and takes the write lock (`BEGIN IMMEDIATE`), waiting at most `timeout`
    /// seconds for a writer that holds it now.
    public init(path: String, timeout: Double) throws {
        self.path = path
        var db: OpaquePointer?
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.unavailable, "db_lock: no SQLite file at \(path); it exists once the db node has started")
        }
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw StoreError(.unavailable, "db_lock: cannot open \(path): \(message)")
        }
        sqlite3_busy_timeout(db, Int32(max(1, timeout * 1000)))
        let begin = sqlite3_exec(db, "BEGIN IMMEDIATE", nil, nil, nil)
        guard begin == SQLITE_OK else {
            let message = String(cString: sqlite3_errmsg(db))
            sqlite3_close(db)
            throw StoreError(begin == SQLITE_BUSY ? .timeout : .failed, "db_lock: cannot take the write lock of \(path) within \(timeout)s: \(message)")
        }
        handle = Locked(UInt(bitPattern: db))
    }

    /// True until `release`.
    public var isHeld: Bool { handle.withLock { $0 != 0 } }

    /// Ends the transaction (nothing was written) and closes the file; a second call does nothing.
    public func release() {
        handle.withLock { address in
            guard let db = OpaquePointer(bitPattern: address) else { return }
            sqlite3_exec(db, "ROLLBACK", nil, nil, nil)
            sqlite3_close(db)
            address = 0
        }
    }

    deinit { release() }
}
