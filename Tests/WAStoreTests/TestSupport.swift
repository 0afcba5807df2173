import Foundation
import NIOPosix
import Testing
import WACore
import WAStore
import WAStorePostgres
import WAStoreRemote
import WAStoreSQLite
import WATestKit
import WAWire

/// Shorthand for instants in tests: `t(12)` is logical second 12 after an arbitrary epoch.
func t(_ seconds: Double) -> LogicalInstant { LogicalInstant(seconds: 1_000 + seconds) }

/// Every backend the storage contract runs on. The conformance suite runs each test on all of
/// them: the same operations, the same answers.
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    /// The SQLite file opened in this process (what the db node does inside).
    case sqlite
    /// The db node: one SQLite store behind the node RPC server, used by two remote clients.
    case dbNode = "db-node"
    /// A PostgreSQL server, used through two independent connection pools.
    case postgres

    var testDescription: String { rawValue }

    /// PostgreSQL runs where it is installed, and always under CI (`WA_REQUIRE_POSTGRES=1`).
    static var all: [Backend] { TestPostgres.shouldRun ? allCases : [.sqlite, .dbNode] }
}

/// Two clients of one fresh database, as two node processes would be, and the database's clock
/// (a manual clock injected into the backend, so leases and fences are stepped by hand).
struct StoreFixture: Sendable {
    let backend: Backend
    let clock: ManualClock
    let a: any ClusterStore
    let b: any ClusterStore
    /// The backend itself, for the few tests that reach under the contract.
    let source: any SQLConnectionSource
    let cleanup: @Sendable () async -> Void

    /// Moves the database's clock forward to `instant`.
    func at(_ instant: LogicalInstant) {
        precondition(instant >= clock.now, "time only moves forward (now \(clock.now), asked for \(instant))")
        clock.advance(by: instant - clock.now)
    }

    /// Runs raw SQL on the backend (a test poking under the contract).
    func raw(_ sql: String) async throws {
        try await source.withConnection { c in try c.writeTransaction { _ = try c.execute(sql) } }
    }
}

func makeFixture(_ backend: Backend) async throws -> StoreFixture {
    let clock = ManualClock(start: t(0))
    switch backend {
    case .sqlite:
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wastore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("cluster.db").path
        let first = try SQLiteConnectionSource(path: path, clock: clock)
        let second = try SQLiteConnectionSource(path: path, clock: clock)
        return StoreFixture(backend: backend, clock: clock, a: SQLClusterStore(source: first), b: SQLClusterStore(source: second),
                            source: first, cleanup: { try? FileManager.default.removeItem(at: dir) })
    case .dbNode:
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wastore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let source = try SQLiteConnectionSource(path: dir.appendingPathComponent("cluster.db").path, clock: clock)
        let group = MultiThreadedEventLoopGroup.singleton
        let keyring = ClusterKeyring(ClusterSecret(databasePassword: "test-db-password"))
        let server = try await RPCServer.bind(host: "127.0.0.1", port: 0, routes: StoreServer.routes(serving: SQLClusterStore(source: source)),
                                              keyring: keyring, limits: .storeRPC, group: group)
        Task { await server.run() }  // until `cleanup` closes it
        let address = HostPort(host: "127.0.0.1", port: server.port)
        let a = RemoteClusterStore(address: address, addressBook: .direct, keyring: keyring, group: group, timeout: 5)
        let b = RemoteClusterStore(address: address, addressBook: .direct, keyring: keyring, group: group, timeout: 5)
        return StoreFixture(backend: backend, clock: clock, a: a, b: b, source: source, cleanup: {
            await server.close()
            try? FileManager.default.removeItem(at: dir)
        })
    case .postgres:
        let server = try await TestPostgres.shared.start()
        let config = server.config()
        let first = PostgresConnectionSource(config: config, maxConnections: 4, timeout: 5, scale: .realTime, clock: clock)
        let second = PostgresConnectionSource(config: config, maxConnections: 4, timeout: 5, scale: .realTime, clock: clock)
        return StoreFixture(backend: backend, clock: clock, a: SQLClusterStore(source: first), b: SQLClusterStore(source: second),
                            source: first, cleanup: {
            try? PostgresClusterStore.dropDatabase(named: config.databaseName, config: config, timeout: 5)
        })
    }
}

/// Runs `body` with two clients of one fresh database of `backend`, migrated unless told otherwise.
func withStores<T>(_ backend: Backend, migrated: Bool = true, _ body: (StoreFixture) async throws -> T) async throws -> T {
    let s = try await makeFixture(backend)
    do {
        if migrated { _ = try await s.a.migrate(to: ClusterSchema.version) }
        let result = try await body(s)
        await s.cleanup()
        return result
    } catch {
        await s.cleanup()
        throw error
    }
}

/// Holds the master lease as `node` from `now` and returns the write permit.
func becomePrimary(_ s: StoreFixture, _ store: any ClusterStore, _ node: String, at now: LogicalInstant, ttl: Double = 10) async throws -> MasterGuard {
    s.at(now)
    let status = try await store.acquireMasterLease(node: node, ttl: ttl)
    precondition(status.lease.holder == node, "\(node) could not take the lease: \(status)")
    return MasterGuard(nodeID: node, term: status.lease.term)
}

/// A registered single-number account with `shards` shards, saved under `g`.
func register(_ store: any ClusterStore, shards: Int, guard g: MasterGuard) async throws {
    let ok = try await store.saveAccount(AccountRecord(cc: "1", phoneNumber: "6505550100", vname: "Acme", state: .registered, shards: shards), guard: g)
    precondition(ok)
}
