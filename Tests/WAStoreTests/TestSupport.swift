import Foundation
import WACore
@testable import WAStore

/// Shorthand for instants in tests: `t(12)` is logical second 12 after an arbitrary epoch.
func t(_ seconds: Double) -> LogicalInstant { LogicalInstant(seconds: 1_000 + seconds) }

/// A fresh SQLite file in its own temporary folder, opened by two independent stores, as two
/// node processes on one machine would (two connections, two serial queues).
struct TwoStores {
    let directory: URL
    let path: String
    let a: SQLiteClusterStore
    let b: SQLiteClusterStore

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("wastore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        path = directory.appendingPathComponent("cluster.db").path
        a = try SQLiteClusterStore(path: path)
        b = try SQLiteClusterStore(path: path)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

/// Runs `body` with two stores on one fresh file, migrated unless told otherwise.
func withStores<T>(migrated: Bool = true, _ body: (TwoStores) async throws -> T) async throws -> T {
    let s = try TwoStores()
    defer { s.remove() }
    if migrated { _ = try await s.a.migrate() }
    return try await body(s)
}

/// Holds the master lease with `store` as `node` at `now` and returns the write permit.
func becomePrimary(_ store: SQLiteClusterStore, _ node: String, at now: LogicalInstant, ttl: Double = 10) async throws -> MasterGuard {
    let row = try await store.acquireMasterLease(node: node, now: now, ttl: ttl)
    precondition(row.holder == node, "\(node) could not take the lease: \(row)")
    return MasterGuard(nodeID: node, term: row.term, now: now)
}

/// A registered single-number account with `shards` shards, saved under `g`.
func register(_ store: SQLiteClusterStore, shards: Int, guard g: MasterGuard) async throws {
    let ok = try await store.saveAccount(AccountRecord(cc: "1", phoneNumber: "6505550100", vname: "Acme", state: .registered, shards: shards), guard: g)
    precondition(ok)
}
