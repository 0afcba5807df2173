import CLibPQ
import Foundation
import WACore
import WAStore

/// A PostgreSQL failure: what libpq or the server said, with the SQLSTATE when there is one.
struct PostgresError: Error, CustomStringConvertible {
    enum Kind { case connect, timeout, broken, statement }
    let kind: Kind
    let message: String
    var sqlState: String?
    var description: String { "PostgreSQL \(sqlState.map { "error \($0)" } ?? "error"): \(message)" }

    /// 3D000: the database named in the connection does not exist (yet). A refused connection
    /// has no result to carry the SQLSTATE, so the server's message tells.
    var isMissingDatabase: Bool {
        sqlState == "3D000" || (kind == .connect && message.contains("database \"") && message.contains("does not exist"))
    }
}

/// Where and how to connect: the product's `WA_DB_*` values, resolved to the address to dial.
struct PostgresEndpoint: Sendable {
    var host: String
    var port: Int
    var user: String
    var password: String
    var database: String
}

/// One libpq connection, used by one operation at a time on a thread of the pool's own. Every
/// wait (connecting, each statement) is bounded by `timeout`: libpq's non-blocking calls and
/// `poll`, so a paused or cut-off server costs a timeout, never a hang.
// @unchecked: `conn`, `prepared` and `isBroken` have one owner at a time: the operation holding it (awaited to completion on a pool thread), handed on under the source's lock; idle ones are only closed.
final class PostgresConnection: SQLConnection, @unchecked Sendable {
    private var conn: OpaquePointer?
    private var prepared: [String: String] = [:]
    /// A transaction's BEGIN not sent yet: it goes out with the transaction's first statement,
    /// in one round trip (libpq's pipeline mode), not one of its own.
    private var pendingBegin: String?
    private let timeout: Double
    private let scale: TimeScale
    private let clock: (any ClusterClock)?
    let dialect = SQLDialect.postgres

    /// Set once the connection cannot be trusted (it broke, or a statement timed out halfway).
    private(set) var isBroken = false

    init(_ endpoint: PostgresEndpoint, timeout: Double, scale: TimeScale, clock: (any ClusterClock)?) throws {
        self.timeout = timeout
        self.scale = scale
        self.clock = clock
        // A node gives up on a statement after `timeout` and drops the connection. Across a cut
        // the server never hears of it: a transaction it had begun would hold its row locks (the
        // master lease's FOR UPDATE) until TCP gives up, hours later, and no master could take the
        // lease when the network healed (seen in `every-node-cut-from-db`). So the server ends
        // such a transaction itself, and no statement waits on a lock longer than a node would
        // (a little less: the server's clean refusal arrives before the node gives up on it).
        let ms = Int((timeout * 1000).rounded(.up))
        let sessionLimits = "-c idle_in_transaction_session_timeout=\(2 * ms) -c lock_timeout=\(ms * 4 / 5)"
        let keys = ["host", "port", "user", "password", "dbname", "application_name", "keepalives", "keepalives_idle", "options"]
        let values = [endpoint.host, "\(endpoint.port)", endpoint.user, endpoint.password, endpoint.database, "wacluster", "1", "5", sessionLimits]
        conn = withCStringArrays(keys, values) { k, v in PQconnectStartParams(k, v, 0) }
        guard let conn else { throw PostgresError(kind: .connect, message: "out of memory creating a connection") }
        if PQstatus(conn) == CONNECTION_BAD { throw fail(.connect) }
        let deadline = MonotonicTime.seconds() + timeout
        var state = PGRES_POLLING_WRITING
        while state != PGRES_POLLING_OK {
            switch state {
            case PGRES_POLLING_FAILED: throw fail(.connect)
            case PGRES_POLLING_READING: try wait(read: true, until: deadline, doing: "connecting to \(endpoint.host):\(endpoint.port)")
            default: try wait(read: false, until: deadline, doing: "connecting to \(endpoint.host):\(endpoint.port)")
            }
            state = PQconnectPoll(conn)
        }
        guard PQsetnonblocking(conn, 1) == 0 else { throw fail(.connect) }
    }

    deinit { PQfinish(conn) }

    func close() { PQfinish(conn); conn = nil; isBroken = true }

    private func fail(_ kind: PostgresError.Kind, result: OpaquePointer? = nil) -> PostgresError {
        var message = String(cString: PQerrorMessage(conn)).trimmingCharacters(in: .whitespacesAndNewlines)
        var state: String?
        if let result {
            if let m = PQresultErrorMessage(result), m.pointee != 0 { message = String(cString: m).trimmingCharacters(in: .whitespacesAndNewlines) }
            if let s = PQresultErrorField(result, Int32(UInt8(ascii: "C"))) { state = String(cString: s) }
        }
        if kind != .statement || PQstatus(conn) == CONNECTION_BAD { isBroken = true }
        return PostgresError(kind: PQstatus(conn) == CONNECTION_BAD && kind == .statement ? .broken : kind, message: message, sqlState: state)
    }

    /// Waits until the socket is readable (or writable), or throws at the deadline.
    private func wait(read: Bool, until deadline: Double, doing what: String) throws {
        let fd = PQsocket(conn)
        guard fd >= 0 else { throw fail(.broken) }
        while true {
            let remaining = deadline - MonotonicTime.seconds()
            guard remaining > 0 else {
                isBroken = true
                throw PostgresError(kind: .timeout, message: "no answer within \(String(format: "%.2f", timeout))s while \(what)")
            }
            var p = pollfd(fd: fd, events: Int16(read ? POLLIN : POLLOUT), revents: 0)
            let rc = poll(&p, 1, Int32(max(1, min(remaining * 1000, 60_000))))
            if rc > 0 { return }
            if rc < 0, errno != EINTR { throw fail(.broken) }
        }
    }

    /// Sends everything libpq has buffered for the server, by `deadline`.
    private func flush(until deadline: Double, doing what: String) throws {
        while true {
            let flushed = PQflush(conn)
            if flushed == 0 { return }
            if flushed < 0 { throw fail(.broken) }
            try wait(read: false, until: deadline, doing: what)
        }
    }

    /// Sends what libpq has buffered, then collects every result of the statement.
    private func results(doing what: String) throws -> [OpaquePointer] {
        let deadline = MonotonicTime.seconds() + timeout
        try flush(until: deadline, doing: what)
        var out: [OpaquePointer] = []
        while true {
            while PQisBusy(conn) == 1 {
                try wait(read: true, until: deadline, doing: what)
                guard PQconsumeInput(conn) == 1 else { throw fail(.broken) }
            }
            guard let r = PQgetResult(conn) else { return out }
            out.append(r)
        }
    }

    /// `?` placeholders as PostgreSQL's `$1, $2, …`, outside quoted text.
    static func numbered(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var n = 0
        var quote: Character?
        for ch in sql {
            if let q = quote {
                if ch == q { quote = nil }
                out.append(ch)
            } else if ch == "'" || ch == "\"" {
                quote = ch
                out.append(ch)
            } else if ch == "?" {
                n += 1
                out += "$\(n)"
            } else {
                out.append(ch)
            }
        }
        return out
    }

    /// Every result of a pipeline up to its sync, grouped per command sent.
    private func pipelineResults(doing what: String) throws -> [[OpaquePointer]] {
        let deadline = MonotonicTime.seconds() + timeout
        try flush(until: deadline, doing: what)
        var groups: [[OpaquePointer]] = []
        var current: [OpaquePointer] = []
        while true {
            while PQisBusy(conn) == 1 {
                try wait(read: true, until: deadline, doing: what)
                guard PQconsumeInput(conn) == 1 else { throw fail(.broken) }
            }
            // NULL ends one command's results; the sync's own result ends the pipeline.
            guard let r = PQgetResult(conn) else { groups.append(current); current = []; continue }
            if PQresultStatus(r) == PGRES_PIPELINE_SYNC { PQclear(r); return groups }
            current.append(r)
        }
    }

    /// The deferred BEGIN, the statement's PREPARE when it is new on this connection, and the
    /// statement itself, sent together and answered in one round trip.
    private func runPipelined(_ sql: String, name: String, begin: String?, prepare: Bool,
                              _ params: UnsafePointer<UnsafePointer<CChar>?>?, count: Int) throws -> OpaquePointer? {
        guard PQenterPipelineMode(conn) == 1 else { throw fail(.broken) }
        var sent = true
        if let begin { sent = sent && PQsendQueryParams(conn, begin, 0, nil, nil, nil, nil, 0) == 1 }
        if prepare { sent = sent && PQsendPrepare(conn, name, Self.numbered(sql), Int32(count), nil) == 1 }
        sent = sent && PQsendQueryPrepared(conn, name, Int32(count), params, nil, nil, 0) == 1
        guard sent, PQpipelineSync(conn) == 1 else { throw fail(.broken) }
        let groups = try pipelineResults(doing: "running \(sql.prefix(40))…")
        guard PQexitPipelineMode(conn) == 1 else {
            for g in groups { for r in g { PQclear(r) } }
            throw fail(.broken)
        }
        // One group per command, in the order sent. A failed command aborts the rest of the
        // pipeline: the first failure is the one reported, every result is cleared.
        let labels = (begin.map { [$0] } ?? []) + (prepare ? ["PREPARE \(sql)"] : []) + [sql]
        var failure: Error?
        var answer: OpaquePointer?
        for (i, group) in groups.enumerated() {
            if failure != nil { group.forEach { PQclear($0) }; continue }
            do {
                let r = try check(group, i < labels.count ? labels[i] : sql)
                if i == groups.count - 1 { answer = r } else if let r { PQclear(r) }
                // The server keeps a statement it prepared, whatever became of the one run with it.
                if prepare, i == labels.count - 2 { prepared[sql] = name }
            } catch { failure = error }
        }
        if let failure { throw failure }
        guard groups.count == labels.count else { throw PostgresError(kind: .broken, message: "the server answered \(groups.count) of \(labels.count) pipelined commands") }
        return answer
    }

    @discardableResult
    private func check(_ results: [OpaquePointer], _ sql: String) throws -> OpaquePointer? {
        defer { for r in results.dropLast() { PQclear(r) } }
        for r in results {
            let status = PQresultStatus(r)
            if status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK {
                let e = fail(.statement, result: r)
                for r in results { PQclear(r) }
                throw PostgresError(kind: e.kind, message: e.message + " (in: \(sql.prefix(80)))", sqlState: e.sqlState)
            }
        }
        return results.last
    }

    private func run(_ sql: String, _ values: [SQLValue]) throws -> OpaquePointer? {
        guard conn != nil, !isBroken else { throw PostgresError(kind: .broken, message: "the connection is closed") }
        let known = prepared[sql]
        let name = known ?? "s\(prepared.count + 1)"
        let begin = pendingBegin
        pendingBegin = nil
        let texts: [String?] = values.map { v in
            switch v {
            case .null: nil
            case .int(let i): String(i)
            case .double(let d): "\(d)"
            case .text(let s): s
            }
        }
        if begin != nil || known == nil {
            return try withOptionalCStrings(texts) { params in
                try runPipelined(sql, name: name, begin: begin, prepare: known == nil, params, count: texts.count)
            }
        }
        let sent: Int32 = withOptionalCStrings(texts) { params in PQsendQueryPrepared(conn, name, Int32(values.count), params, nil, nil, 0) }
        guard sent == 1 else { throw fail(.broken) }
        return try check(try results(doing: "running \(sql.prefix(40))…"), sql)
    }

    @discardableResult
    func query(_ sql: String, _ values: [SQLValue]) throws -> [[SQLValue]] {
        guard let r = try run(sql, values) else { return [] }
        defer { PQclear(r) }
        let rows = PQntuples(r), columns = PQnfields(r)
        var out: [[SQLValue]] = []
        out.reserveCapacity(Int(rows))
        for i in 0..<rows {
            var row: [SQLValue] = []
            row.reserveCapacity(Int(columns))
            for j in 0..<columns {
                if PQgetisnull(r, i, j) == 1 { row.append(.null); continue }
                let text = String(cString: PQgetvalue(r, i, j))
                switch PQftype(r, j) {
                case 16: row.append(.int(text == "t" ? 1 : 0))                   // bool
                case 20, 21, 23: row.append(Int64(text).map(SQLValue.int) ?? .text(text))   // int8, int2, int4
                case 700, 701, 1700: row.append(Double(text).map(SQLValue.double) ?? .text(text)) // float4, float8, numeric
                default: row.append(.text(text))
                }
            }
            out.append(row)
        }
        return out
    }

    @discardableResult
    func execute(_ sql: String, _ values: [SQLValue]) throws -> Int {
        guard let r = try run(sql, values) else { return 0 }
        defer { PQclear(r) }
        return Int(String(cString: PQcmdTuples(r))) ?? 0
    }

    func executeScript(_ sql: String) throws {
        guard conn != nil, !isBroken else { throw PostgresError(kind: .broken, message: "the connection is closed") }
        guard PQsendQuery(conn, sql) == 1 else { throw fail(.broken) }
        if let last = try check(try results(doing: "running a migration"), sql) { PQclear(last) }
    }

    func writeTransaction<T>(_ body: () throws -> T) throws -> T { try deferredTransaction("BEGIN", body) }

    func readTransaction<T>(_ body: () throws -> T) throws -> T {
        try deferredTransaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    /// BEGIN goes out with the first statement; a body that ran none costs no round trip at all.
    private func deferredTransaction<T>(_ begin: String, _ body: () throws -> T) throws -> T {
        pendingBegin = begin
        do {
            let v = try body()
            if pendingBegin != nil { pendingBegin = nil; return v }
            try execute("COMMIT")
            return v
        } catch {
            let began = pendingBegin == nil
            pendingBegin = nil
            if began, !isBroken { _ = try? execute("ROLLBACK") }
            throw error
        }
    }

    /// The server's clock at this instant (not the transaction's start), in logical seconds;
    /// an injected clock instead when the source was given one (tests that step time by hand).
    func databaseNow() throws -> LogicalInstant {
        if let clock { return clock.now }
        guard let real = try query("SELECT EXTRACT(EPOCH FROM clock_timestamp())::float8").first?.first?.double else {
            throw PostgresError(kind: .statement, message: "the server did not tell its time")
        }
        return LogicalInstant(seconds: scale.logical(real))
    }
}

private func withCStringArrays<R>(_ a: [String], _ b: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>, UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let ca = a.map { strdup($0) }, cb = b.map { strdup($0) }
    defer { ca.forEach { free($0) }; cb.forEach { free($0) } }
    let pa = (ca.map { UnsafePointer($0) } + [nil]), pb = (cb.map { UnsafePointer($0) } + [nil])
    return pa.withUnsafeBufferPointer { x in pb.withUnsafeBufferPointer { y in body(x.baseAddress!, y.baseAddress!) } }
}

private func withOptionalCStrings<R>(_ values: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) throws -> R) rethrows -> R {
    let c = values.map { $0.map { strdup($0) } ?? nil }
    defer { c.forEach { free($0) } }
    let p = c.map { $0.map { UnsafePointer($0) } }
    return try p.withUnsafeBufferPointer { try body($0.baseAddress) }
}
