import NIOCore
import WACore
import WAStore
import WAStorePostgres
import WAStoreSQLite
import WAStoreRemote
import WAWire

/// Opens the store a node's configuration names: the db node's file for `wacluster db`, the db
/// node over RPC for every other node of the embedded engine, a connection pool for PostgreSQL.
public enum StoreFactory {
    /// How long a node waits for one database operation before treating the database as gone.
    public static func operationTimeout(_ scale: TimeScale, timings: ClusterTimings = .standard) -> Double {
        max(ClusterTimings.databaseOperationFloorReal, scale.real(timings.databaseOperation))
    }

    /// Connections one node keeps to PostgreSQL at most, by role (`WA_DB_MAX_CONNECTIONS` overrides).
    public static func poolSize(for role: NodeRole) -> Int {
        switch role {
        case .coreapp, .webapp: 4
        case .master: 3
        default: 1
        }
    }

    public static func open(_ config: NodeConfig, clock: any ClusterClock, addressBook: PeerAddressBook,
                            group: EventLoopGroup) throws -> any ClusterStore {
        let db = config.database
        let timeout = operationTimeout(config.timeScale)
        switch (db.engine, config.role) {
        case (.sqlite, .db):
            return try WAStoreSQLite.SQLiteClusterStore.open(path: db.sqlitePath!, clock: clock)
        case (.sqlite, _):
            guard let address = db.address else { throw ConfigError(.missing, variable: "WA_DB_HOSTNAME", detail: "the db node's address is not set") }
            guard let key = db.nodeKey else { throw ConfigError(.missing, variable: "WA_DB_PASSWORD", detail: "the db node's password is not set") }
            return RemoteClusterStore(address: address, addressBook: addressBook, keyring: ClusterKeyring(key), group: group, timeout: timeout)
        case (.pgsql, _):
            return PostgresClusterStore.open(config: db, maxConnections: config.databasePoolSize ?? poolSize(for: config.role),
                                             timeout: timeout, scale: config.timeScale, resolve: { addressBook.resolve($0) })
        case (.mysql, _):
            throw ConfigError(.unsupported, variable: "WA_DB_ENGINE",
                              detail: "MYSQL is not available in this build yet; use WA_DB_ENGINE=SQLITE (with `wacluster db`) or PGSQL")
        }
    }
}
