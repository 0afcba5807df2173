import Logging
import ServiceLifecycle
import WACore
import WAStore
import WAStoreRemote
import WAWire

/// The `db` process of the embedded engine (the seeds' `db` service): it alone owns the SQLite
/// file and carries out each storage request of the other nodes as one transaction, so no
/// client ever holds a lock between requests, and a paused or killed client blocks nobody.
public final class DatabaseService: Service, Sendable {
    let rt: NodeRuntime
    let server: RPCServer

    private init(rt: NodeRuntime, server: RPCServer) { self.rt = rt; self.server = server }

    /// Binds `WA_DB_PORT` now, so a port in use fails at start with one line.
    public static func start(runtime rt: NodeRuntime) async throws -> DatabaseService {
        let db = rt.config.database
        let port = db.port ?? DatabaseConfig.defaultDBNodePort
        // Bound to the address nodes dial (WA_DB_HOSTNAME) unless WA_BIND_ADDRESS says otherwise.
        let host = rt.config.bindOverride ?? db.hostname ?? "127.0.0.1"
        guard let key = db.nodeKey else { throw ConfigError(.missing, variable: "WA_DB_PASSWORD", detail: "the db node needs a password its clients prove") }
        let server = try await RPCServer.bind(host: host, port: port, routes: StoreServer.routes(serving: rt.store), keyring: ClusterKeyring(key),
                                              limits: .storeRPC, group: rt.group, variable: "WA_DB_PORT")
        let version = (try? await rt.store.schemaVersion()) ?? 0
        rt.logger.event("node_started", "db node serving \(db.sqlitePath ?? "?") on \(host):\(server.port) (schema version \(version))",
                        ["role": "db", "port": "\(server.port)", "path": db.sqlitePath ?? "", "schema": "\(version)"])
        return DatabaseService(rt: rt, server: server)
    }

    public var port: Int { server.port }

    public func run() async throws {
        try await server.serving {
            try? await gracefulShutdown()
            rt.logger.event("node_stopping", "db node stopping")
        }
    }
}
