import Foundation
import Testing
import WACore
import WACoordination
@testable import WAStore

@Suite("SQLiteClusterStore: schema and seed data")
struct MigrationTests {
    @Test func migratesAnEmptyFileToTheLatestVersionOnce() async throws {
        try await withStores(migrated: false) { s in
            #expect(try await s.a.schemaVersion() == 0)
            let first = try await s.a.migrate()
            #expect(first.from == 0 && first.to == SQLiteClusterStore.latestSchemaVersion)
            let latest = SQLiteClusterStore.latestSchemaVersion
            #expect(latest == 2, "1: cluster, 2: messaging")
            #expect(try await s.a.schemaVersion() == latest)
            #expect(try await s.b.schemaVersion() == latest)
            let again = try await s.a.migrate()
            #expect(again.from == latest && again.to == latest)
            let other = try await s.b.migrate()
            #expect(other.from == latest && other.to == latest)
            #expect(s.a.engine == .sqlite)
            #expect(s.a.location == s.path)
        }
    }

    @Test func twoProcessesMigratingAtOnceMigrateOnce() async throws {
        try await withStores(migrated: false) { s in
            async let x = s.a.migrate()
            async let y = s.b.migrate()
            let results = try await [x, y].map { "\($0.from)->\($0.to)" }.sorted()
            let latest = SQLiteClusterStore.latestSchemaVersion
            #expect(results == ["0->\(latest)", "\(latest)->\(latest)"])
            #expect(try await s.a.users().count == 1)
        }
    }

    @Test func seedsTheAdminUserWhoMustChangeThePassword() async throws {
        try await withStores { s in
            let admin = try #require(try await s.b.user("admin"))
            #expect(admin.mustChangePassword && admin.isAdmin)
            #expect(admin.passwordHash == Credentials.hashPassword("secret", salt: admin.salt))
            #expect(admin.salt.count == 16)
            // A second migration does not reseed (the salt, hence the hash, stays).
            _ = try await s.b.migrate()
            #expect(try await s.a.user("admin") == admin)
            #expect(try await s.a.users() == [admin])
        }
    }

    @Test func seedsDefaultSettingsAndAVacantLease() async throws {
        try await withStores { s in
            let (version, settings) = try await s.b.settings()
            #expect(version == 1)
            #expect(settings.heartbeatInterval == 5 && settings.unhealthyInterval == 30)
            #expect(try await s.b.masterLease() == .vacant)
            #expect(try await s.b.account() == nil)
            let map = try await s.b.shardMap()
            #expect(map.shardCount == 1 && map.rows.isEmpty)
            #expect(try await s.b.nodes().isEmpty)
            #expect(try await s.b.peerReports(excluding: "x").isEmpty)
        }
    }

    @Test func aSchemaNewerThanThisBinaryIsRefused() async throws {
        try await withStores { s in
            try await s.a.db.run { c in try c.execute("INSERT INTO schema_info(version) VALUES (99)") }
            #expect(try await s.b.schemaVersion() == 99)
            do {
                _ = try await s.b.migrate()
                Issue.record("migrated a newer schema")
            } catch let e as StoreError {
                #expect(e.code == .schemaTooNew)
                #expect(e.description.hasPrefix("error SCHEMA_TOO_NEW: the DB schema is version 99"))
            }
        }
    }

    @Test func anUnopenableFileIsAStoreError() {
        do {
            _ = try SQLiteClusterStore(path: "/nonexistent-\(UUID().uuidString)/cluster.db")
            Issue.record("opened a file in a missing folder")
        } catch let e as StoreError {
            #expect(e.code == .unavailable)
            #expect(e.message.contains("WA_DB_PATH"))
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func theFactoryOpensSQLiteAndRefusesServerEnginesForNow() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wastore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try StoreFactory.open(DatabaseConfig.from(Environment(["WA_DB_PATH": dir.path + "/x.db"])))
        #expect(store.engine == .sqlite)
        let pg = try DatabaseConfig.from(Environment(["WA_DB_ENGINE": "PGSQL", "WA_DB_HOSTNAME": "db", "WA_DB_PORT": "5432",
                                                      "WA_DB_USERNAME": "u", "WA_DB_PASSWORD": "p"]))
        #expect(throws: ConfigError.self) { try StoreFactory.open(pg) }
    }
}
