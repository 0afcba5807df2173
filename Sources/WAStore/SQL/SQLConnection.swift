import WACore

/// A value bound to or read from SQL.
public enum SQLValue: Equatable, Sendable {
    case null, int(Int64), double(Double), text(String)
    public var int: Int? { switch self { case .int(let i): Int(i); case .double(let d): Int(d); case .text(let s): Int(s); default: nil } }
    public var double: Double? { switch self { case .double(let d): d; case .int(let i): Double(i); case .text(let s): Double(s); default: nil } }
    public var text: String? { if case .text(let s) = self { s } else { nil } }
    public var isNull: Bool { self == .null }
}

/// The few places the engines' SQL differs; everything else is written once.
public enum SQLDialect: Sendable {
    case sqlite, postgres

    /// Locks the rows read for a read-modify-write. SQLite needs none: its write transaction
    /// (BEGIN IMMEDIATE) holds the whole database.
    public var forUpdate: String { self == .postgres ? " FOR UPDATE" : "" }

    /// A statement answering one row when `table` exists.
    public var tableExists: String {
        switch self {
        case .sqlite: "SELECT name FROM sqlite_master WHERE type='table' AND name=?"
        case .postgres: "SELECT tablename FROM pg_tables WHERE schemaname=current_schema() AND tablename=?"
        }
    }

    /// Run first in a migration, so masters starting together migrate one after another.
    public var migrationLock: String? { self == .postgres ? "SELECT pg_advisory_xact_lock(7363627)" : nil }
}

/// One open database connection, used by one operation at a time. Statements use `?`
/// placeholders on every engine.
public protocol SQLConnection: AnyObject {
    var dialect: SQLDialect { get }
    /// Runs one statement and answers its rows.
    @discardableResult func query(_ sql: String, _ values: [SQLValue]) throws -> [[SQLValue]]
    /// Runs one statement and answers how many rows it changed.
    @discardableResult func execute(_ sql: String, _ values: [SQLValue]) throws -> Int
    /// Runs several statements (migrations).
    func executeScript(_ sql: String) throws
    /// Runs `body` in a write transaction: committed when it returns, rolled back when it throws.
    func writeTransaction<T>(_ body: () throws -> T) throws -> T
    /// Runs `body` in a read-only transaction that sees one consistent state.
    func readTransaction<T>(_ body: () throws -> T) throws -> T
    /// The database's clock, in logical seconds: what leases and fences are judged by.
    func databaseNow() throws -> LogicalInstant
}

extension SQLConnection {
    @discardableResult public func query(_ sql: String) throws -> [[SQLValue]] { try query(sql, []) }
    @discardableResult public func execute(_ sql: String) throws -> Int { try execute(sql, []) }
    /// The first column of the first row.
    public func scalar(_ sql: String, _ values: [SQLValue] = []) throws -> SQLValue? { try query(sql, values).first?.first }

    /// `begin`, the body, COMMIT; ROLLBACK when the body throws and the connection can still
    /// talk (`canRollBack`), the body's error either way. What every engine's transactions share.
    public func transaction<T>(_ begin: String, canRollBack: () -> Bool = { true }, _ body: () throws -> T) throws -> T {
        try execute(begin)
        do {
            let v = try body()
            try execute("COMMIT")
            return v
        } catch {
            if canRollBack() { _ = try? execute("ROLLBACK") }
            throw error
        }
    }
}

/// Where a store's operations get a connection: a serial queue over one SQLite connection, a
/// bounded pool of PostgreSQL connections. A source maps its engine's failures to `StoreError`.
public protocol SQLConnectionSource: Sendable {
    var dialect: SQLDialect { get }
    var engine: DatabaseEngine { get }
    var location: String { get }
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T
}
