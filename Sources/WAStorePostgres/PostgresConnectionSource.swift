import Foundation
import NIOPosix
import WACore
import WAStore

/// A node's bounded pool of PostgreSQL connections. libpq's calls run on a thread pool of the
/// source's own, one thread per connection at most, never on an event loop or Swift's
/// cooperative threads. A broken or timed-out connection is closed, not reused; after a failed
/// connect, new connects wait a capped, growing backoff and requests meanwhile fail at once.
public final class PostgresConnectionSource: SQLConnectionSource, Sendable {
    public let dialect = SQLDialect.postgres
    public let engine = DatabaseEngine.pgsql
    public let location: String
    let config: DatabaseConfig
    let timeout: Double
    let scale: TimeScale
    let resolve: @Sendable (HostPort) -> HostPort
    let clock: (any ClusterClock)?
    private let threads: NIOThreadPool
    private struct State {
        var pool: ConnectionPoolState<PostgresConnection>
        var waiting: [Int: CheckedContinuation<PostgresConnection?, Error>] = [:]
        var backoff = ReconnectBackoff()
        var databaseCreated = false
    }
    private let state: Locked<State>

    /// `timeout` (real seconds) bounds every connect and every statement; `resolve` maps the
    /// server's address to the one to dial (the chaos runner's link proxy). Leases are judged by
    /// the server's clock unless `clock` is given (tests that step time by hand).
    public init(config: DatabaseConfig, maxConnections: Int, timeout: Double, scale: TimeScale,
                resolve: @escaping @Sendable (HostPort) -> HostPort = { $0 }, clock: (any ClusterClock)? = nil) {
        self.config = config
        self.clock = clock
        self.timeout = timeout
        self.scale = scale
        self.resolve = resolve
        self.location = "\(config.hostname ?? "?"):\(config.port ?? 0)/\(config.databaseName)"
        self.state = Locked(State(pool: ConnectionPoolState(limit: maxConnections)))
        self.threads = NIOThreadPool(numberOfThreads: maxConnections)
        threads.start()
    }

    deinit { threads.shutdownGracefully { _ in } }

    /// Connections this node holds open right now (for the report on connection counts).
    public var openConnections: Int { state.withLock { $0.pool.opened } }

    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        let reserved = try await acquire()
        // The connection as opened on the pool thread, read back here once that work is done.
        let box = Locked<PostgresConnection?>(reserved)
        let outcome: Result<T, Error> = await Result(catching: {
            try await threads.runIfActive { [self] in
                let c = try box.value ?? self.open()
                box.withLock { $0 = c }
                return try body(c)
            }
        })
        let connection = box.value
        release(connection, healthy: connection.map { !$0.isBroken } ?? false, opened: reserved == nil)
        switch outcome {
        case .success(let v): return v
        case .failure(let e): throw Self.storeError(e, location: location)
        }
    }

    /// An idle connection, or nil meaning "open one" (a slot is reserved for it). The decision
    /// and parking in line happen under one lock, so a release never misses a waiter.
    private func acquire() async throws -> PostgresConnection? {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<PostgresConnection?, Error>) in
            let immediate: Result<PostgresConnection?, Error>? = state.withLock { s in
                if let wait = s.backoff.wait(), s.pool.idle.isEmpty {
                    return .failure(StoreError(.unavailable, "the database at \(location) is unreachable; reconnecting in \(String(format: "%.2f", wait))s"))
                }
                switch s.pool.acquire() {
                case (.use(let c), _): return .success(c)
                case (.open, _): return .success(nil)
                case (.wait, let id?):
                    s.waiting[id] = cont
                    // Waiting in line is not the database being gone: twice an operation's deadline.
                    DispatchQueue.global().asyncAfter(deadline: .now() + 2 * timeout) { [weak self] in self?.giveUp(waiter: id) }
                    return nil
                case (.wait, nil): return .failure(StoreError(.failed, "connection pool: a waiter without an id"))
                }
            }
            if let immediate { cont.resume(with: immediate) }
        }
    }

    private func giveUp(waiter id: Int) {
        let cont = state.withLock { s in s.pool.cancel(waiter: id) ? s.waiting.removeValue(forKey: id) : nil }
        cont?.resume(throwing: StoreError(.unavailable, "every connection to \(location) stayed busy for \(String(format: "%.2f", 2 * timeout))s"))
    }

    private func release(_ c: PostgresConnection?, healthy: Bool, opened: Bool) {
        var stale: [PostgresConnection] = []
        let (decision, cont): (ConnectionPoolState<PostgresConnection>.Release, CheckedContinuation<PostgresConnection?, Error>?) = state.withLock { s in
            let d = c.map { s.pool.release($0, healthy: healthy) } ?? s.pool.openFailed()
            // One broken connection usually means the server went away: the idle ones are
            // likely dead too, so they are closed rather than tried one failure at a time.
            if !healthy { stale = s.pool.drainIdle() }
            switch d {
            case .handTo(let w, _), .openFor(let w): return (d, s.waiting.removeValue(forKey: w))
            case .idle, .none: return (d, nil)
            }
        }
        if let c, !healthy { c.close() }
        for s in stale { s.close() }
        switch decision {
        case .handTo(_, let conn): cont?.resume(returning: conn)
        case .openFor: cont?.resume(returning: nil)
        case .idle, .none: break
        }
    }

    /// Opens a connection on a pool thread; creates the cluster's database on first use.
    private func open() throws -> PostgresConnection {
        let endpoint = self.endpoint(database: config.databaseName)
        do {
            let c = try PostgresConnection(endpoint, timeout: timeout, scale: scale, clock: clock)
            state.withLock { $0.backoff.succeeded() }
            return c
        } catch let e as PostgresError where e.isMissingDatabase && !state.withLock({ $0.databaseCreated }) {
            try createDatabase()
            return try open()
        } catch {
            state.withLock { $0.backoff.failed() }
            throw error
        }
    }

    /// `CREATE DATABASE <prefix>_cluster` through the server's maintenance database; another
    /// node creating it at the same moment is not an error.
    private func createDatabase() throws {
        state.withLock { $0.databaseCreated = true }
        let admin = try PostgresConnection(endpoint(database: "postgres"), timeout: timeout, scale: scale, clock: clock)
        defer { admin.close() }
        do { try admin.execute("CREATE DATABASE \"\(config.databaseName)\"") }
        catch let e as PostgresError where e.sqlState == "42P04" || e.sqlState == "23505" {}
    }

    private func endpoint(database: String) -> PostgresEndpoint {
        let target = resolve(HostPort(host: config.hostname ?? "127.0.0.1", port: config.port ?? 5432))
        return PostgresEndpoint(host: target.host, port: target.port, user: config.username ?? "", password: config.password ?? "",
                                database: database)
    }

    static func storeError(_ error: Error, location: String) -> Error {
        guard let e = error as? PostgresError else { return error }
        switch e.kind {
        case .connect: return StoreError(.unavailable, "cannot connect to PostgreSQL at \(location): \(e.message)")
        case .timeout: return StoreError(.timeout, "PostgreSQL at \(location): \(e.message); the operation may or may not have been applied")
        case .broken: return StoreError(.timeout, "the connection to PostgreSQL at \(location) broke: \(e.message); the operation may or may not have been applied")
        // 55P03: a lock the statement waited for (a transaction left behind by a cut-off client)
        // did not come within the session's lock_timeout: the database did not answer in time.
        case .statement where e.sqlState == "55P03":
            return StoreError(.timeout, "PostgreSQL at \(location) waited too long for a lock: \(e.message); the transaction was rolled back")
        case .statement: return StoreError(.failed, e.description)
        }
    }
}

/// The PostgreSQL engine's store: the shared SQL store over a pool of libpq connections.
public enum PostgresClusterStore {
    public static func open(config: DatabaseConfig, maxConnections: Int, timeout: Double, scale: TimeScale,
                            resolve: @escaping @Sendable (HostPort) -> HostPort = { $0 }, clock: (any ClusterClock)? = nil) -> SQLClusterStore {
        SQLClusterStore(source: PostgresConnectionSource(config: config, maxConnections: maxConnections, timeout: timeout,
                                                         scale: scale, resolve: resolve, clock: clock))
    }

    /// How many client connections the server has to the cluster's database right now.
    public static func clientConnections(config: DatabaseConfig, timeout: Double) throws -> Int {
        let admin = try adminConnection(config, timeout: timeout)
        defer { admin.close() }
        do {
            return try admin.query("SELECT count(*) FROM pg_stat_activity WHERE datname = ?", [.text(config.databaseName)]).first?.first?.int ?? 0
        } catch { throw PostgresConnectionSource.storeError(error, location: config.databaseName) }
    }

    static func adminConnection(_ config: DatabaseConfig, timeout: Double) throws -> PostgresConnection {
        let target = HostPort(host: config.hostname ?? "127.0.0.1", port: config.port ?? 5432)
        do {
            return try PostgresConnection(PostgresEndpoint(host: target.host, port: target.port, user: config.username ?? "",
                                                           password: config.password ?? "", database: "postgres"),
                                          timeout: timeout, scale: .realTime, clock: nil)
        } catch { throw PostgresConnectionSource.storeError(error, location: "\(target)") }
    }

    /// Drops a database the runner or a test created (`DROP DATABASE … WITH (FORCE)`).
    public static func dropDatabase(named name: String, config: DatabaseConfig, timeout: Double) throws {
        let admin = try adminConnection(config, timeout: timeout)
        defer { admin.close() }
        do { try admin.execute("DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)") }
        catch { throw PostgresConnectionSource.storeError(error, location: name) }
    }
}

extension Result where Failure == Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
