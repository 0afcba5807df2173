import ServiceLifecycle
import WACore
import WAStore
import WAWire

/// The `wacoreN` process: standby until promoted for a shard, then the shard's gateway
/// connection holder. `start` does everything that can fail at start (the port); `run`
/// serves until SIGTERM, then leaves the gateway and frees its shard.
public final class CoreappService: Service, Sendable {
    let rt: NodeRuntime
    let controller: CoreappController
    let server: RPCServer

    private init(rt: NodeRuntime, controller: CoreappController, server: RPCServer) {
        self.rt = rt; self.controller = controller; self.server = server
    }

    public static func start(runtime rt: NodeRuntime) async throws -> CoreappService {
        let controller = CoreappController(runtime: rt)
        var routes = RPCRoutes()
        routes.on(NodeRPC.Health.self) { _ in await controller.health() }
        routes.on(NodeRPC.Heartbeat.self) { _ in await controller.heartbeat() }
        routes.on(NodeRPC.SettingsChanged.self) { _ in
            if (try? await rt.refreshSettings()) == true {
                rt.logger.event("settings_applied", "settings version \(rt.settingsVersion) applied (broadcast)", ["version": "\(rt.settingsVersion)"])
            }
            return Empty()
        }
        routes.on(NodeRPC.ShardMapChanged.self) { _ in rt.tasks.spawn { await controller.nudge() }; return Empty() }
        routes.on(NodeRPC.SendMessage.self) { p in
            NodeRPC.SendMessage.Result(id: try await controller.pipeline.accept(to: p.to, body: p.body, kind: p.kind, idempotencyKey: p.idempotencyKey))
        }
        routes.on(NodeRPC.Support.self) { _ in await controller.support() }
        routes.on(NodeRPC.ReleaseShard.self) { p in await controller.releaseShard(p) }
        let server = try await RPCServer.bind(host: rt.config.bindAddress, port: rt.config.controlPort, routes: routes,
                                              keyring: rt.keyring, group: rt.group, variable: "COREAPP_EXTERNAL_PORTS")
        rt.logger.event("node_started", "coreapp \(rt.healthKey) listening on \(rt.config.controlPort)",
                        ["role": "coreapp", "node_id": rt.nodeID, "port": "\(rt.config.controlPort)",
                         "version": NodeRuntime.version, "schema_version": "\(ClusterSchema.version)"])
        return CoreappService(rt: rt, controller: controller, server: server)
    }

    public func run() async throws {
        // The RPC port answers from the start (health says `uninitialized` meanwhile).
        try await server.serving { try await serve() }
    }

    private func serve() async throws {
        do { try await cancelWhenGracefulShutdown { [rt] in try await rt.waitForSchema() } }
        catch is CancellationError {}
        if rt.isSchemaReady, !Task.isShuttingDownGracefully {
            await cancelWhenGracefulShutdown { [rt] in await rt.learnClusterSecret() }
            try? await rt.registerSelf(role: .coreapp)
            rt.logger.event(.becameStandby(shard: nil, reason: nil), "standby coreapp")
            await rt.tasks.serving { [rt, controller] in
                await withTaskGroup(of: Void.self) { group in
                    let c = controller, clock = rt.clock, tick = rt.timings.tick
                    group.addTask { await periodic(every: tick, clock: clock) { await c.step() } }
                    group.addTask { await periodic(every: tick / 4, clock: clock) { await c.enforceLease() } }
                    group.addTask { await periodic(every: tick / 4, clock: clock) { await c.renewLease() } }
                    let pipeline = c.pipeline
                    group.addTask { await periodic(every: tick, clock: clock) { await pipeline.reconcile() } }
                    let pass = rt.timings.callbackPass
                    group.addTask { await periodic(every: pass, clock: clock) { await pipeline.callbackPass() } }
                    // Statuses are written even while a pass waits on a slow webhook.
                    group.addTask { await periodic(every: pass, clock: clock) { await pipeline.writeStatuses() } }
                }
                rt.logger.event("node_stopping", "coreapp stopping")
                await controller.shutdown()
            }
        } else {
            rt.logger.event("node_stopping", "coreapp stopping")
            await controller.shutdown()
        }
        await rt.webhooks.shutdown()
    }
}
