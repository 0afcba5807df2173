import Foundation
import Testing
import WACore
import WACoordination
import WAStore

@Suite("Storage contract: schema and seed data")
struct SchemaConformanceTests {
    @Test(arguments: Backend.all)
    func migratesAnEmptyDatabaseToTheContractVersionOnce(_ backend: Backend) async throws {
        try await withStores(backend, migrated: false) { (s: StoreFixture) async throws in
            #expect(try await s.a.schemaVersion() == 0)
            let first = try await s.a.migrate(to: ClusterSchema.version)
            #expect(first == MigrationResult(from: 0, to: ClusterSchema.version))
            #expect(ClusterSchema.version == 5, "1: cluster, 2: messaging, 3: cluster secret and case-folded usernames, 4: template messages, registration time, documents, 5: each node's schema")
            #expect(try await s.a.schemaVersion() == ClusterSchema.version)
            #expect(try await s.b.schemaVersion() == ClusterSchema.version)
            #expect(try await s.a.migrate(to: ClusterSchema.version) == MigrationResult(from: 5, to: 5))
            #expect(try await s.b.migrate(to: ClusterSchema.version) == MigrationResult(from: 5, to: 5))
        }
    }

    @Test(arguments: Backend.all)
    func twoNodesMigratingAtOnceMigrateOnce(_ backend: Backend) async throws {
        try await withStores(backend, migrated: false) { (s: StoreFixture) async throws in
            async let x = s.a.migrate(to: ClusterSchema.version)
            async let y = s.b.migrate(to: ClusterSchema.version)
            let results = try await [x, y].map { "\($0.from)->\($0.to)" }.sorted()
            let v = ClusterSchema.version
            #expect(results == ["0->\(v)", "\(v)->\(v)"])
            #expect(try await s.a.users().count == 1)
        }
    }

    @Test(arguments: Backend.all)
    func migratingStepByStepReachesTheSameSchema(_ backend: Backend) async throws {
        try await withStores(backend, migrated: false) { (s: StoreFixture) async throws in
            #expect(try await s.a.migrate(to: 1) == MigrationResult(from: 0, to: 1))
            #expect(try await s.b.schemaVersion() == 1)
            #expect(try await s.b.migrate(to: 2) == MigrationResult(from: 1, to: 2))
            for v in 3...ClusterSchema.version {
                #expect(try await (v % 2 == 0 ? s.b : s.a).migrate(to: v) == MigrationResult(from: v - 1, to: v))
            }
            #expect(try await s.a.acceptMessages([message("m1", shard: 0)]) == ["m1"])
        }
    }

    @Test(arguments: Backend.all)
    func seedsTheAdminUserWhoMustChangeThePassword(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let admin = try #require(try await s.b.user("admin"))
            // The cluster secret: the first proposal is kept, every later caller gets it.
            let first = try await s.a.clusterSecret(proposing: "first-secret-0123456789")
            #expect(first == "first-secret-0123456789")
            #expect(try await s.b.clusterSecret(proposing: "second-secret-0123456789") == first)
            #expect(admin.mustChangePassword && admin.isAdmin)
            #expect(Credentials.verify(SeedData.adminPassword, stored: admin.passwordHash, legacySalt: admin.salt) == .init(matches: true, needsUpgrade: false))
            #expect(admin.passwordHash.hasPrefix("pbkdf2-sha256$"))
            // Usernames are unique regardless of case, and found regardless of case.
            #expect(try await s.a.user("ADMIN")?.username == "admin")
            // A second migration does not reseed (the salt, hence the hash, stays).
            _ = try await s.b.migrate(to: ClusterSchema.version)
            #expect(try await s.a.user("admin") == admin)
            #expect(try await s.a.users() == [admin])
        }
    }

    @Test(arguments: Backend.all)
    func seedsDefaultSettingsAndAVacantLease(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let record = try await s.b.settings()
            #expect(record.version == 1)
            #expect(record.settings == SeedData.settings)
            let lease = try await s.b.masterLease()
            #expect(lease.lease == .vacant && lease.holder == nil)
            #expect(try await s.b.account() == nil)
            let map = try await s.b.shardMap()
            #expect(map.shardCount == 1 && map.rows.isEmpty && map.asOf == t(0))
            #expect(try await s.b.nodes().isEmpty)
            #expect(try await s.b.peerReports(excluding: "x").isEmpty)
            #expect(try await s.b.dbStats() == { var d = DBStats(); d.shards = 1; return d }())
        }
    }

    /// SPEC §13: the previous release keeps running on the next schema, and the next release's
    /// dbupgrade brings its own migrations, also to a db node of the previous release.
    @Test(arguments: Backend.all)
    func theNextReleasesMigrationRunsFromItsScriptsAndThisReleaseKeepsWorkingOnIt(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let engine = s.a.engine
            let next = ClusterSchema.version + 1
            var scripts = SQLMigrations.scripts(for: engine)
            scripts.append(MigrationScript(version: next, engine: engine, sql: "CREATE TABLE next_release_notes(note TEXT)"))
            #expect(try await s.a.migrate(to: next, scripts: scripts) == MigrationResult(from: ClusterSchema.version, to: next))
            #expect(try await s.b.schemaVersion() == next)
            // This release, on schema N+1: it changes nothing and works as before.
            #expect(try await s.b.migrate(to: ClusterSchema.version) == MigrationResult(from: next, to: next))
            try await s.b.upsertNode(NodeRecord(nodeID: "n1", hostname: "wacore1", role: .coreapp, rpcAddress: HostPort(host: "127.0.0.1", port: 1),
                                                version: ClusterRelease.version, registeredAt: t(0), heartbeatAt: t(0)))
            #expect(try await s.a.nodes().map(\.hostname) == ["wacore1"])
            // Two releases ahead is too new.
            do {
                _ = try await s.b.migrate(to: ClusterSchema.version - 1)
                Issue.record("a release two schemas behind ran on the database")
            } catch let e as StoreError {
                #expect(e.code == .schemaTooNew, "\(e)")
            }
            // Scripts of another engine are refused, not run.
            let other: DatabaseEngine = engine == .sqlite ? .pgsql : .sqlite
            do {
                _ = try await s.a.migrate(to: next + 1, scripts: [MigrationScript(version: next + 1, engine: other, sql: "SELECT 1")])
                Issue.record("ran another engine's migration")
            } catch let e as StoreError {
                #expect(e.code == .unsupported, "\(e)")
            }
        }
    }

    /// Schema 5's `nodes.schema_version`: written and read where the column exists, absent on
    /// schema 4 (an older release's nodes, or a db node serving them) without an error.
    @Test(arguments: Backend.all)
    func eachNodesSchemaIsKeptFromSchema5AndIgnoredBefore(_ backend: Backend) async throws {
        try await withStores(backend, migrated: false) { (s: StoreFixture) async throws in
            _ = try await s.a.migrate(to: 4)
            func node(_ schema: Int?) -> NodeRecord {
                NodeRecord(nodeID: "n1", hostname: "wacore1", role: .coreapp, rpcAddress: HostPort(host: "127.0.0.1", port: 1),
                           version: ClusterRelease.version, registeredAt: t(0), heartbeatAt: t(1), schemaVersion: schema)
            }
            try await s.b.upsertNode(node(5))
            #expect(try await s.a.nodes().first?.schemaVersion == nil, "schema 4 has no column to keep it in")
            _ = try await s.b.migrate(to: 5)
            try await s.b.upsertNode(node(5))
            #expect(try await s.a.nodes().first?.schemaVersion == 5)
            try await s.a.upsertNode(node(nil))
            #expect(try await s.b.nodes().first?.schemaVersion == nil, "a node of an older release writes none")
        }
    }

    @Test(arguments: Backend.all)
    func aSchemaNewerThanThisBinaryIsRefused(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            try await s.raw("INSERT INTO schema_info(version) VALUES (99)")
            #expect(try await s.b.schemaVersion() == 99)
            do {
                _ = try await s.b.migrate(to: ClusterSchema.version)
                Issue.record("migrated a newer schema")
            } catch let e as StoreError {
                #expect(e.code == .schemaTooNew)
                #expect(e.description.hasPrefix("error SCHEMA_TOO_NEW: the database schema is version 99"), "\(e)")
            }
        }
    }

    @Test(arguments: Backend.all)
    func aVersionTheBackendDoesNotKnowIsRefused(_ backend: Backend) async throws {
        try await withStores(backend, migrated: false) { (s: StoreFixture) async throws in
            await #expect(throws: StoreError.self) { try await s.a.migrate(to: ClusterSchema.version + 5) }
            #expect(try await s.a.schemaVersion() == 0)
        }
    }
}

func message(_ id: String, shard: Int, key: String? = nil, to: String = "15551230000", at: Double = 0) -> MessageRecord {
    MessageRecord(id: id, shard: shard, recipient: to, body: "body \(id)", idempotencyKey: key, state: .accepted,
                  acceptedBy: "c1", acceptedAt: t(at))
}

/// Transactions on every engine: on PostgreSQL BEGIN and a new statement's PREPARE travel with
/// the first statement (one round trip); a failure anywhere in that must still roll back and
/// leave the connection fit for the next operation.
@Suite("Storage contract: transactions")
struct TransactionConformanceTests {
    static let insert = "INSERT INTO messages(id, shard, recipient, body, idempotency_key, state, accepted_by, accepted_at, updated_at) VALUES (?,0,'1','b',NULL,'accepted','n',0,0)"

    @Test(arguments: Backend.all)
    func aFailedStatementRollsTheWholeTransactionBackAndTheConnectionGoesOn(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            _ = try await s.a.acceptMessages([message("taken", shard: 0)])
            for attempt in 1...2 {
                let failed: Bool = try await s.source.withConnection { c in
                    do {
                        try c.writeTransaction {
                            try c.execute(Self.insert, [.text("fresh\(attempt)")])
                            try c.execute(Self.insert, [.text("taken")])   // the primary key is taken
                        }
                        return false
                    } catch { return true }
                }
                #expect(failed, "attempt \(attempt): inserting a taken id succeeded")
                #expect(try await s.b.message("fresh\(attempt)") == nil, "attempt \(attempt): the first insert outlived the rollback")
            }
            // The same connection, statements prepared before, a transaction that reads nothing.
            try await s.source.withConnection { c in
                _ = try c.writeTransaction { try c.execute(Self.insert, [.text("after")]) }
                try c.readTransaction { }
            }
            #expect(try await s.b.message("after") != nil)
            // A failure in the very first statement of a transaction (BEGIN sent with it).
            let first: Bool = try await s.source.withConnection { c in
                do { _ = try c.writeTransaction { try c.execute("INSERT INTO no_such_table VALUES (1)") }; return false } catch { return true }
            }
            #expect(first)
            #expect(try await s.a.acceptMessages([message("last", shard: 0)]) == ["last"])
        }
    }
}

@Suite("Schema compatibility across releases")
struct SchemaCompatibilityTests {
    @Test func eachDatabaseVersionHasOneAnswer() {
        #expect(ClusterSchema.fit(database: 0, binary: 4, newestCompatible: 5, oldestUpgradable: 2) == .create)
        #expect(ClusterSchema.fit(database: 1, binary: 4, newestCompatible: 5, oldestUpgradable: 2) == .tooOld(1))
        #expect(ClusterSchema.fit(database: 2, binary: 4, newestCompatible: 5, oldestUpgradable: 2) == .upgrade(from: 2))
        #expect(ClusterSchema.fit(database: 4, binary: 4, newestCompatible: 5, oldestUpgradable: 2) == .current)
        #expect(ClusterSchema.fit(database: 5, binary: 4, newestCompatible: 5, oldestUpgradable: 2) == .newerCompatible(5))
        #expect(ClusterSchema.fit(database: 6, binary: 4, newestCompatible: 5, oldestUpgradable: 2) == .tooNew(6))
    }

    @Test func aRefusalIsOneLineSayingWhatToDo() throws {
        let tooNew = try #require(ClusterSchema.refusal(database: 7, binary: 4, newestCompatible: 5))
        #expect(tooNew.code == .schemaTooNew)
        #expect(tooNew.description == "error SCHEMA_TOO_NEW: the database schema is version 7, but release \(ClusterRelease.version) works with schema 4 to 5 only; run this node on a newer release")
        let tooOld = try #require(ClusterSchema.refusal(database: 1, binary: 4, newestCompatible: 5, oldestUpgradable: 2))
        #expect(tooOld.code == .schemaTooOld)
        #expect(!tooOld.description.contains("\n"))
        #expect(ClusterSchema.refusal(database: 5, binary: 4, newestCompatible: 5) == nil)
        #expect(ClusterSchema.versionLine == "\(ClusterRelease.version) (schema \(ClusterSchema.version); runs on schema \(ClusterSchema.version) to \(ClusterSchema.version + 1))")
    }
}
