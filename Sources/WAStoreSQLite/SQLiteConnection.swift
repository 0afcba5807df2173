import CSQLite
import Foundation
import WACore
import WAStore

/// A failed SQLite call, with SQLite's own message and what we were doing.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public let statement: String
    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
    public var description: String { "SQLite error \(code): \(message) (in: \(statement.prefix(80)))" }
}

/// One connection to the SQLite file. Not thread-safe by itself: `SQLiteConnectionSource`
/// serializes access. Only the db node opens the file for the cluster; the busy handler is
/// for the outside writers there can still be (an operator's `sqlite3` shell, the runner's
/// `db_lock` fault): it backs off in microseconds instead of SQLite's 1–100 ms sleeps.
final class SQLiteConnection: SQLConnection {
    private var db: OpaquePointer?
    private var cache: [String: OpaquePointer] = [:]
    /// Takes the WAL checkpoints off this connection's commits; outlives `db` (closed in deinit).
    private(set) var checkpointer: WALCheckpointer?
    let path: String
    let clock: any ClusterClock
    let dialect = SQLDialect.sqlite

    init(path: String, clock: any ClusterClock, busyTimeoutMilliseconds: Int32 = 10_000) throws {
        self.path = path
        self.clock = clock
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK else {
            let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw SQLiteError(code: rc, message: msg, statement: "open \(path)")
        }
        sqlite3_busy_handler(db, { context, attempt in
            let limit = Int(bitPattern: context)
            var waited = 0
            for i in 0..<Int(attempt) { waited += min(2_000, 50 << min(i, 6)) }
            guard waited < limit * 1000 else { return 0 }
            var pause = timespec(tv_sec: 0, tv_nsec: min(2_000, 50 << min(Int(attempt), 6)) * 1000)
            nanosleep(&pause, nil)
            return 1
        }, UnsafeMutableRawPointer(bitPattern: Int(busyTimeoutMilliseconds)))
        // WAL with synchronous=NORMAL: a commit is in the WAL file before the db node answers,
        // so it survives a kill -9 of the db node (the failure this cluster is tested against);
        // only a crash of the machine itself could lose the last commits before a checkpoint.
        _ = try query("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=NORMAL")
        try execute("PRAGMA foreign_keys=ON")
        // Sorts and statement journals in memory: on disk each one was a temporary file opened,
        // written and unlinked (~80 a second under the message benchmark, for the due
        // callbacks' ORDER BY id), measured with strace on the db node.
        try execute("PRAGMA temp_store=MEMORY")
        if let db {
            let checkpointer = try WALCheckpointer(path: path)
            WALCheckpointer.install(on: db, checkpointer)
            self.checkpointer = checkpointer
        }
    }

    deinit {
        for (_, stmt) in cache { sqlite3_finalize(stmt) }
        sqlite3_wal_hook(db, nil, nil)
        sqlite3_close(db)
    }

    private func error(_ rc: Int32, _ sql: String) -> SQLiteError {
        SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(db)), statement: sql)
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let s = cache[sql] { sqlite3_reset(s); sqlite3_clear_bindings(s); return s }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, sql) }
        cache[sql] = stmt
        return stmt
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    private func bind(_ stmt: OpaquePointer, _ values: [SQLValue], _ sql: String) throws {
        for (i, v) in values.enumerated() {
            let idx = Int32(i + 1)
            let rc: Int32 = switch v {
            case .null: sqlite3_bind_null(stmt, idx)
            case .int(let n): sqlite3_bind_int64(stmt, idx, n)
            case .double(let d): sqlite3_bind_double(stmt, idx, d)
            case .text(let s): sqlite3_bind_text(stmt, idx, s, -1, Self.transient)
            }
            guard rc == SQLITE_OK else { throw error(rc, sql) }
        }
    }

    @discardableResult
    func query(_ sql: String, _ values: [SQLValue]) throws -> [[SQLValue]] {
        let stmt = try prepared(sql)
        defer { sqlite3_reset(stmt) }
        try bind(stmt, values, sql)
        var rows: [[SQLValue]] = []
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else { throw error(rc, sql) }
            let n = sqlite3_column_count(stmt)
            var row: [SQLValue] = []
            row.reserveCapacity(Int(n))
            for c in 0..<n {
                switch sqlite3_column_type(stmt, c) {
                case SQLITE_INTEGER: row.append(.int(sqlite3_column_int64(stmt, c)))
                case SQLITE_FLOAT: row.append(.double(sqlite3_column_double(stmt, c)))
                case SQLITE_NULL: row.append(.null)
                default: row.append(.text(String(cString: sqlite3_column_text(stmt, c))))
                }
            }
            rows.append(row)
        }
        return rows
    }

    @discardableResult
    func execute(_ sql: String, _ values: [SQLValue]) throws -> Int {
        try query(sql, values)
        return Int(sqlite3_changes(db))
    }

    func executeScript(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? "unknown"
            sqlite3_free(err)
            throw SQLiteError(code: rc, message: msg, statement: sql)
        }
    }

    /// BEGIN IMMEDIATE takes the write lock up front, so a transaction never fails halfway
    /// through upgrading a read lock.
    func writeTransaction<T>(_ body: () throws -> T) throws -> T { try transaction("BEGIN IMMEDIATE", body) }

    func readTransaction<T>(_ body: () throws -> T) throws -> T { try transaction("BEGIN", body) }

    /// The db node's own clock: with the embedded engine it is the database server.
    func databaseNow() throws -> LogicalInstant { clock.now }
}

/// The db node's access to its SQLite file: one connection on one serial queue, so blocking
/// SQLite calls never tie up Swift's cooperative threads and operations never interleave.
// @unchecked: the non-Sendable `connection` is only touched on the serial `queue` after init; everything else is an immutable `let`.
public final class SQLiteConnectionSource: SQLConnectionSource, @unchecked Sendable {
    private let queue: DispatchQueue
    private let connection: SQLiteConnection
    public let path: String
    public let dialect = SQLDialect.sqlite
    public let engine = DatabaseEngine.sqlite
    public var location: String { path }

    public init(path: String, clock: any ClusterClock) throws {
        self.path = path
        self.queue = DispatchQueue(label: "sqlite:\(path)")
        do { self.connection = try SQLiteConnection(path: path, clock: clock) }
        catch { throw StoreError(.unavailable, "cannot open the SQLite file \(path): \(error); check WA_DB_PATH and its folder's permissions") }
    }

    /// How many checkpoints the checkpointer has run (tests).
    func checkpointsRun() async -> Int {
        await withCheckedContinuation { (done: CheckedContinuation<Int, Never>) in
            queue.async { done.resume(returning: self.connection.checkpointer?.runs ?? 0) }
        }
    }

    /// Waits until the checkpoints the writer has asked for so far have run (tests).
    func drainCheckpoints() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async { self.connection.checkpointer?.drain(); done.resume() }
        }
    }

    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { cont in
            queue.async {
                do { cont.resume(returning: try body(self.connection)) }
                catch let e as StoreError { cont.resume(throwing: e) }
                catch let e as SQLiteError {
                    cont.resume(throwing: StoreError(e.isBusy ? .timeout : .failed, e.description))
                } catch { cont.resume(throwing: error) }
            }
        }
    }
}

/// The embedded engine's store: the shared SQL store over one SQLite file.
public enum SQLiteClusterStore {
    public static func open(path: String, clock: any ClusterClock) throws -> SQLClusterStore {
        SQLClusterStore(source: try SQLiteConnectionSource(path: path, clock: clock))
    }
}
