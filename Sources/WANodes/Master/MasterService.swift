import ServiceLifecycle
import WACore
import WAStore
import WAWire

/// The `masterN` process. Masters create or upgrade the schema if needed (the primary's job
/// in the product; any master may do it here because migrations are transactional).
public final class MasterService: Service, Sendable {
    let rt: NodeRuntime
    let controller: MasterController
    let server: RPCServer

    private init(rt: NodeRuntime, controller: MasterController, server: RPCServer) {
        self.rt = rt; self.controller = controller; self.server = server
    }

    public static func start(runtime rt: NodeRuntime) async throws -> MasterService {
        let controller = MasterController(runtime: rt)
        var routes = RPCRoutes()
        routes.on(NodeRPC.Health.self) { _ in await controller.health() }
        routes.on(NodeRPC.SettingsChanged.self) { _ in _ = try? await rt.refreshSettings(); return Empty() }
        routes.on(NodeRPC.Register.self) { p in try await controller.register(p) }
        routes.on(NodeRPC.Support.self) { _ in await controller.support() }
        routes.on(NodeRPC.Verify.self) { p in try await controller.verify(p) }
        routes.on(NodeRPC.SetShards.self) { p in try await controller.setShards(p) }
        routes.on(NodeRPC.CheckContacts.self) { p in try await controller.checkContacts(p) }
        routes.on(NodeRPC.RestoreAccount.self) { p in try await controller.restoreAccount(p) }
        routes.on(NodeRPC.Handover.self) { p in try await controller.handover(p) }
        let server = try await RPCServer.bind(host: rt.config.bindAddress, port: rt.config.controlPort, routes: routes,
                                              keyring: rt.keyring, group: rt.group, variable: "COREAPP_EXTERNAL_PORTS")
        rt.logger.event("node_started", "master \(rt.healthKey) listening on \(rt.config.controlPort)",
                        ["role": "master", "node_id": rt.nodeID, "port": "\(rt.config.controlPort)",
                         "version": NodeRuntime.version, "schema_version": "\(ClusterSchema.version)"])
        return MasterService(rt: rt, controller: controller, server: server)
    }

    public func run() async throws {
        // The RPC port answers from the start (health says `uninitialized` meanwhile).
        try await server.serving { try await serve() }
    }

    private func serve() async throws {
        let migrated: MigrationResult?
        do { migrated = try await cancelWhenGracefulShutdown { [rt] in try await Self.migrate(rt) } }
        catch is CancellationError { migrated = nil }
        if let migrated, !Task.isShuttingDownGracefully {
            if migrated.from != migrated.to {
                rt.logger.event("schema_migrated", "DB schema migrated from version \(migrated.from) to \(migrated.to)",
                                ["from": "\(migrated.from)", "to": "\(migrated.to)"])
            }
            rt.markSchemaReady()
            await cancelWhenGracefulShutdown { [rt] in await rt.learnClusterSecret() }
            try? await rt.registerSelf(role: .master)
            await rt.tasks.serving { [rt, controller] in
                await withTaskGroup(of: Void.self) { group in
                    let c = controller, clock = rt.clock, tick = rt.timings.tick
                    group.addTask { await periodic(every: tick, clock: clock) { await c.step() } }
                    group.addTask { await periodic(every: tick / 4, clock: clock) { await c.enforceLease() } }
                    group.addTask { await periodic(every: tick / 4, clock: clock) { await c.renewLease() } }
                }
                rt.logger.event("node_stopping", "master stopping")
                await controller.shutdown()
            }
        } else {
            rt.logger.event("node_stopping", "master stopping")
            await controller.shutdown()
        }
    }

    /// Creates or upgrades the schema, waiting (health `uninitialized`) while the database
    /// cannot be reached; a schema this binary cannot work with ends the node with one line.
    static func migrate(_ rt: NodeRuntime) async throws -> MigrationResult? {
        while !Task.isCancelled {
            do {
                let result = try await rt.store.migrate(to: ClusterSchema.version)
                rt.noteDatabase(nil)
                return result
            } catch let e as StoreError where e.code == .unavailable || e.code == .timeout {
                rt.noteDatabase(e)
            }
            try await rt.clock.sleep(logicalSeconds: rt.timings.tick)
        }
        return nil
    }
}
