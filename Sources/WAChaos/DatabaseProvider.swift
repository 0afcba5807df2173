import ChaosScenario
import Foundation
import ProcessSupervisor
import WACore
import WAStorePostgres
import WATestKit

/// Gives each scenario its database, as the `db` node of its topology: a `wacluster db` process
/// for SQLite; for PostgreSQL a throwaway server of the scenario's own, on a copy of one data
/// folder that `initdb` made once per run (in the run folder); or, with `--db-env`, a database
/// of the scenario's own on the user's server, dropped when the scenario ends. Not Sendable:
/// the suite's task uses it, one scenario at a time.
final class DatabaseProvider {
    let runDirectory: String
    let supervisor: Supervisor
    let external: DatabaseConfig?
    private var template: PostgresTemplate?
    private var counter = 0

    init(runDirectory: String, supervisor: Supervisor, external: DatabaseConfig?) {
        self.runDirectory = runDirectory; self.supervisor = supervisor; self.external = external
    }

    /// Reads `--db-env FILE` (a `db.env` as the seeds write it); only PostgreSQL servers are taken.
    static func externalServer(envFile: String) throws -> DatabaseConfig {
        let env = Environment(try Environment.parseEnvFile(atPath: envFile))
        let config = try DatabaseConfig.from(env, role: .webapp)
        guard config.engine == .pgsql else {
            throw RunnerError("\(envFile): WA_DB_ENGINE=\(config.engine.rawValue); --db-env takes a PostgreSQL server's db.env (WA_DB_ENGINE=PGSQL)")
        }
        return config
    }

    func database(for engine: DatabaseEngine) async throws -> ClusterDatabase {
        switch engine {
        case .sqlite:
            return .sqlite
        case .mysql:
            throw RunnerError("the runner cannot start a MySQL cluster yet; use topology.db: sqlite or postgres")
        case .pgsql:
            if var config = external {
                counter += 1
                // One database per scenario and run on the shared server: `<prefix>_<run>_<n>_cluster`.
                config.namePrefix = "\(config.namePrefix)_\(getpid())_\(counter)"
                return .external(config)
            }
            if template == nil {
                template = try await PostgresTemplate.create(at: "\(runDirectory)/postgres-template/data", supervisor: supervisor)
            }
            return .postgres(template!)
        }
    }

    /// Drops what `database(for:)` created on an external server.
    func release(_ database: ClusterDatabase) {
        guard case .external(let config) = database else { return }
        try? PostgresClusterStore.dropDatabase(named: config.databaseName, config: config, timeout: 10)
    }

    /// The template's folder, removed with the run's other bulk when every scenario passed.
    var templateDirectory: String? { template.map { _ in "\(runDirectory)/postgres-template" } }
}
