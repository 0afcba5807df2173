import Foundation
import Logging
import WACore
import WACoordination
import WAStore
import WAWire

/// A coreapp's brain: drives the shard-owner machine from the DB and the gateway session,
/// and answers masters' heartbeats and health. All state lives in this actor.
public actor CoreappController {
    let rt: NodeRuntime
    var machine: ShardOwnerMachine
    var session: GatewaySession?
    public let pipeline: MessagePipeline
    var shardCount = 1
    var phone: String?
    var registered = false
    var stopping = false

    public init(runtime: NodeRuntime) {
        rt = runtime
        machine = ShardOwnerMachine(timings: runtime.timings)
        pipeline = MessagePipeline(runtime: runtime)
    }

    // MARK: loop

    let steps = StepRequests()

    /// One pass: DB heartbeat, settings, the shard map's word on this node, lease upkeep. A call
    /// while a pass runs returns after the next one.
    public func step() async {
        await steps.run { await pass() }
    }

    private func pass() async {
        guard !stopping else { return }
        await rt.upkeep(role: .coreapp)
        do {
            let account = try await rt.store.account()
            registered = account?.isRegistered ?? false
            phone = account?.fullNumber
            var mine: ShardOwnerMachine.Assignment?
            if registered {
                let map = try await rt.store.shardMap()
                shardCount = map.shardCount
                if let row = map.shard(ownedBy: rt.nodeID) {
                    // The fence is on the database's clock: carry it over to ours as a duration.
                    let fence = rt.clock.monotonicNow + (row.fenceUntil - map.asOf)
                    mine = .init(shard: row.shard, epoch: row.epoch, fenceUntil: fence)
                }
            }
            rt.noteDatabase(nil)
            await apply(machine.observe(mine, now: rt.clock.monotonicNow))
        } catch {
            rt.noteDatabase(error)
            await apply(machine.databaseUnavailable(now: rt.clock.monotonicNow))
        }
        await apply(machine.tick(now: rt.clock.monotonicNow))
    }

    /// Renews the shard lease when due, in a loop of its own (one DB call, not behind a step's reads).
    public func renewLease() async {
        await apply(machine.renewalDue(now: rt.clock.monotonicNow))
    }

    /// The lease watchdog: runs between steps, never waits on the DB.
    public func enforceLease() async {
        await apply(machine.enforceExpiry(now: rt.clock.monotonicNow))
    }

    func apply(_ directives: [ShardOwnerMachine.Directive]) async {
        for d in directives {
            switch d {
            case .acquireLease(let shard, let epoch):
                let sentAt = rt.clock.monotonicNow
                var answer = ShardLeaseAnswer.refused
                do { answer = try await rt.store.acquireShardLease(shard: shard, epoch: epoch, node: rt.nodeID, ttl: rt.timings.shardLeaseTTL) }
                catch { rt.logger.event("db_error", "shard lease request failed: \(error)", level: .warning) }
                await apply(machine.leaseAcquired(shard: shard, epoch: epoch, answer: answer, sentAt: sentAt, now: rt.clock.monotonicNow))
            case .renewLease(let shard, let epoch):
                let sentAt = rt.clock.monotonicNow
                var ok: Bool?
                do { ok = try await rt.store.renewShardLease(shard: shard, epoch: epoch, node: rt.nodeID, ttl: rt.timings.shardLeaseTTL) }
                catch { rt.logger.event("db_error", "shard lease renewal failed: \(error)", level: .warning) }
                await apply(machine.leaseRenewed(shard: shard, epoch: epoch, ok: ok, sentAt: sentAt))
            case .connect(let shard, let epoch):
                startSession(shard: shard, epoch: epoch)
            case .disconnect(let shard, let reason):
                if rt.config.unsafeDisableFencing, session != nil {
                    rt.logger.event("fencing_disabled", "WA_UNSAFE_DISABLE_FENCING: keeping the gateway session of shard \(shard) although: \(reason)",
                                    ["shard": "\(shard)"], level: .error)
                    break
                }
                if let s = session {
                    session = nil
                    s.stop(reason: reason)
                    await pipeline.sessionDown(s)
                    rt.logger.event(.gatewayDisconnected(shard: shard, reason: reason), "left the gateway for shard \(shard): \(reason)")
                }
            case .promoted(let shard, let epoch):
                await pipeline.own(shard: shard, epoch: epoch, shards: shardCount)
                rt.logger.event(.becameOwner(shard: shard, epoch: epoch), "now the primary coreapp of shard \(shard)")
            case .demoted(let shard, let reason):
                await pipeline.release()
                rt.logger.event(.becameStandby(shard: shard, reason: reason), "back to standby (was shard \(shard)): \(reason)")
            }
        }
    }

    private func startSession(shard: Int, epoch: Int) {
        guard let gateway = rt.config.gatewayAddress, let phone else { return }
        session?.stop(reason: "replaced by a new session")
        let s = GatewaySession(shard: shard, epoch: epoch)
        session = s
        let rt = rt
        let shards = shardCount
        let pipeline = pipeline
        // Frames reach the pipeline in the order the gateway sent them.
        let (frames, sink) = AsyncStream<GatewayFrame>.makeStream()
        s.onFrame = { sink.yield($0) }
        rt.tasks.spawn { for await f in frames { await pipeline.receive(f) } }
        s.onConnected = { rt.tasks.spawn { await self.sessionConnected(s) } }
        rt.tasks.spawn {
            let reason = await s.run(gateway: gateway, runtime: rt, phone: phone, shards: shards)
            sink.finish()
            await self.sessionEnded(s, reason: reason)
        }
    }

    func sessionConnected(_ s: GatewaySession) async {
        guard session === s else { return }
        rt.logger.event(.gatewayConnected(shard: s.shard, epoch: s.epoch), "connected to the gateway for shard \(s.shard)")
        await apply(machine.gatewayConnected(now: rt.clock.monotonicNow))
        if session === s, machine.connection == .connected { await pipeline.sessionUp(s) }
    }

    func sessionEnded(_ s: GatewaySession, reason: String) async {
        await pipeline.sessionDown(s)
        guard session === s else { return }
        session = nil
        rt.logger.event(.gatewayDisconnected(shard: s.shard, reason: reason), "gateway session for shard \(s.shard) ended: \(reason)")
        await apply(machine.gatewayDisconnected(now: rt.clock.monotonicNow, retryAfter: 1))
    }

    /// Graceful stop: leave the gateway, then free the shard so it moves at once.
    public func shutdown() async {
        stopping = true
        let held = machine.state
        await apply(machine.resign())
        // What the gateway reported last is written before the shard is free (one attempt: a
        // stopping node does not wait for a database that is away).
        await pipeline.stopBatchingStatuses()
        if case .serving(let a, _, _) = held {
            try? await rt.store.releaseShard(shard: a.shard, epoch: a.epoch, node: rt.nodeID)
            rt.logger.event(.shardReleased(shard: a.shard), "released shard \(a.shard) on shutdown")
        }
    }

    /// The owner's part of a planned handover: leave the gateway, then free the lease in the
    /// DB so the successor's fence ends now. Not released (false) when this node does not hold
    /// that shard in that epoch, or the DB did not take the release (the successor then waits
    /// out the lease, as after a failure).
    public func releaseShard(_ p: NodeRPC.ReleaseShard.Params) async -> NodeRPC.ReleaseShard.Result {
        guard let directives = machine.release(shard: p.shard, epoch: p.epoch) else { return .init(released: false) }
        let leaving = session
        await apply(directives)
        await leaving?.closed()
        await pipeline.writeStatuses(ignoringPause: true)
        do {
            try await rt.store.releaseShard(shard: p.shard, epoch: p.epoch, node: rt.nodeID)
        } catch {
            // The DB still names this node for the epoch: take it up again rather than leave the
            // shard without a server (the master then fences it by its lease).
            machine.releaseFailed()
            rt.logger.event("db_error", "could not release shard \(p.shard) for a handover: \(error)", level: .warning)
            return .init(released: false)
        }
        rt.logger.event(.shardReleased(shard: p.shard), "released shard \(p.shard) for a planned handover")
        return .init(released: true)
    }

    // MARK: RPC answers

    public func heartbeat() -> NodeRPC.Heartbeat.Result {
        .init(nodeID: rt.nodeID, shard: machine.servingShard, connected: machine.connection == .connected)
    }

    public func support() -> NodeRPC.Support.Result {
        let shard = machine.servingShard
        let conn: String = switch machine.connection { case .connected: "connected"; case .connecting: "connecting"; case .down: "disconnected" }
        return .init(role: "coreapp", shards: shard.map { [[$0, $0]] } ?? [], socketConn: conn,
                     dbEngine: rt.config.database.engine.rawValue, multiConnect: shardCount > 1,
                     version: NodeRuntime.version, schemaVersion: ClusterSchema.version)
    }

    public func health() -> JSONValue {
        guard rt.isSchemaReady else { return HealthEntry.status("uninitialized", role: "coreapp") }
        if rt.databaseUnavailable != nil { return HealthEntry.databaseUnreachable(rt.config.hostname) }
        guard registered else { return HealthEntry.notInstantiated }
        let status: String = switch machine.connection {
        case .connected: "connected"
        case .connecting: "connecting"
        case .down: machine.servingShard == nil ? "disconnected" : "connecting"
        }
        return HealthEntry.status(status, role: "coreapp")
    }

    public func nudge() async { await step() }
}

/// The health entry shapes of the product.
public enum HealthEntry {
    public static func status(_ status: String, role: String) -> JSONValue {
        .object(["gateway_status": .string(status), "role": .string(role)])
    }
    public static func error(_ e: APIError) -> JSONValue {
        .object(["errors": .array([.object(["code": .number(Double(e.code)), "title": .string(e.title), "details": .string(e.details)])])])
    }
    public static var notInstantiated: JSONValue { error(.wacoreNotInstantiated) }
    /// A master or coreapp whose latest database call failed: it cannot store or read what its
    /// role needs, whatever its gateway connection says (the reason is in its log).
    public static func databaseUnreachable(_ hostname: String) -> JSONValue {
        error(APIError(.databaseError, "\(hostname) cannot reach the database; it retries and recovers when the database answers", status: 503))
    }
}
