import CSQLite
import Foundation

/// A value bound to or read from SQLite.
public enum SQLValue: Equatable, Sendable {
    case null, int(Int64), double(Double), text(String)
    public var int: Int? { switch self { case .int(let i): Int(i); case .double(let d): Int(d); default: nil } }
    public var double: Double? { switch self { case .double(let d): d; case .int(let i): Double(i); default: nil } }
    public var text: String? { if case .text(let s) = self { s } else { nil } }
    public var isNull: Bool { self == .null }
}

/// A failed SQLite call, with SQLite's own message and what we were doing.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public let statement: String
    public var isBusy: Bool { code == SQLITE_BUSY || code == SQLITE_LOCKED }
    public var description: String { "SQLite error \(code): \(message) (in: \(statement.prefix(80)))" }
}

/// One connection to the shared file. Not thread-safe by itself: `SQLiteDatabase` serializes
/// access. WAL lets readers of other processes proceed while one process writes; the busy
/// timeout makes writers of several processes wait for each other instead of failing.
final class SQLiteConnection {
    private var db: OpaquePointer?
    private var cache: [String: OpaquePointer] = [:]
    let path: String

    init(path: String, busyTimeoutMilliseconds: Int32 = 10_000) throws {
        self.path = path
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK else {
            let msg = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw SQLiteError(code: rc, message: msg, statement: "open \(path)")
        }
        // SQLite's own busy timeout sleeps 1, 2, 5, 10, … 100 ms between tries; with several
        // processes writing one file that adds tens of milliseconds to every contended write.
        // Ours backs off from 50 µs to 2 ms and gives up after the same overall timeout.
        sqlite3_busy_handler(db, { context, attempt in
            let limit = Int(bitPattern: context)
            var waited = 0
            for i in 0..<Int(attempt) { waited += min(2_000, 50 << min(i, 6)) }
            guard waited < limit * 1000 else { return 0 }
            var pause = timespec(tv_sec: 0, tv_nsec: min(2_000, 50 << min(Int(attempt), 6)) * 1000)
            nanosleep(&pause, nil)
            return 1
        }, UnsafeMutableRawPointer(bitPattern: Int(busyTimeoutMilliseconds)))
        // WAL: concurrent readers across processes; NORMAL sync is durable against process
        // crashes (SIGKILL), which is the failure this cluster is tested against.
        _ = try query("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=NORMAL")
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit {
        for (_, stmt) in cache { sqlite3_finalize(stmt) }
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

    /// Runs one statement and returns its rows.
    @discardableResult
    func query(_ sql: String, _ values: [SQLValue] = []) throws -> [[SQLValue]] {
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

    func execute(_ sql: String, _ values: [SQLValue] = []) throws { try query(sql, values) }

    /// Runs a multi-statement script (migrations).
    func executeScript(_ sql: String) throws {
        var err: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &err)
        if rc != SQLITE_OK {
            let msg = err.map { String(cString: $0) } ?? "unknown"
            sqlite3_free(err)
            throw SQLiteError(code: rc, message: msg, statement: sql)
        }
    }

    var changes: Int { Int(sqlite3_changes(db)) }

    /// A write transaction taken up front (BEGIN IMMEDIATE), so two processes never both read
    /// and then deadlock upgrading to write.
    func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let v = try body()
            try execute("COMMIT")
            return v
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}

/// The process's access to the SQLite file: one connection, used from one serial queue so
/// blocking SQLite calls never tie up Swift's cooperative threads.
public final class SQLiteDatabase: @unchecked Sendable {
    private let queue: DispatchQueue
    private let connection: SQLiteConnection
    public let path: String

    public init(path: String) throws {
        self.path = path
        self.queue = DispatchQueue(label: "sqlite:\(path)")
        self.connection = try SQLiteConnection(path: path)
    }

    func run<T>(_ body: @escaping (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { cont in
            queue.async {
                do { cont.resume(returning: try body(self.connection)) } catch { cont.resume(throwing: error) }
            }
        }
    }

    func runSync<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try queue.sync { try body(connection) }
    }
}
