import WACore
import WAStore

/// `wacluster dbupgrade`: migrates the schema to this binary's version.
public enum DBUpgrade {
    public static func run(runtime rt: NodeRuntime) async throws -> MigrationResult {
        if rt.config.failDBUpgrade {
            throw StoreError(.failed, "WA_TEST_FAIL_DBUPGRADE=1 (a test-only switch): refusing to migrate; the schema is left as it was")
        }
        let result = try await rt.store.migrate(to: ClusterSchema.version)
        rt.logger.event("schema_migrated", "DB schema at version \(result.to) (was \(result.from))",
                        ["from": "\(result.from)", "to": "\(result.to)"])
        return result
    }
}
