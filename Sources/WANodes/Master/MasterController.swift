import Foundation
import Logging
import WACore
import WACoordination
import WAStore
import WAWire

/// A master's brain: competes for the lease; every master heartbeats the coreapps and reports
/// what it saw; the primary also detects failures, promotes standbys, holds the control shard
/// in Multiconnect, handles registration and broadcasts settings.
public actor MasterController {
    let rt: NodeRuntime
    var lease: MasterLeaseMachine
    var ledger = HeartbeatLedger()
    var lastRound: LogicalInstant?
    var account: AccountRecord?
    var reportedUnhealthy: [String: String] = [:]
    var reportedNoCandidate: [Int: LogicalInstant] = [:]
    var broadcastVersion = 0
    var control: GatewaySession?
    var stopping = false
    /// When this master could not read the database: DB heartbeat ages count only the rest.
    var outages: DatabaseOutageLedger
    /// The coreapps as last read: heartbeats are node to node, so they go on while the DB is away.
    var knownCoreapps: [NodeRecord] = []
    /// What the WhatsApp server said of contacts looked up on this master (true: on WhatsApp).
    var contactCache: [String: Bool] = [:]
    var contactsInFlight: Set<String> = []
    /// Shards a planned handover (or a shard-count change) is moving: the planner leaves them
    /// alone meanwhile, and the owner giving one up is no candidate for it.
    var handingOver: Set<Int> = []
    var releasing: Set<String> = []
    var resharding = false
    /// Counts the shard moves a handover or a shard change made: a planner pass whose map was
    /// read before one of them decides nothing (its map is stale).
    var shardMoves = 0

    public init(runtime: NodeRuntime) {
        rt = runtime
        lease = MasterLeaseMachine(nodeID: runtime.nodeID, timings: runtime.timings)
        outages = DatabaseOutageLedger(horizon: runtime.timings.dbUnhealthyAfter + runtime.timings.dbHeartbeatPeriod)
    }

    var settings: ApplicationSettings { rt.settings }
    /// The failure detector on the settings now (heartbeat pair) and the product's timings.
    var monitor: CoreappMonitor {
        CoreappMonitor(heartbeatInterval: Double(settings.heartbeatInterval), unhealthyInterval: Double(settings.unhealthyInterval), timings: rt.timings)
    }

    // MARK: loop

    let steps = StepRequests()

    /// One pass; a call while a pass runs returns after the next one.
    public func step() async {
        await steps.run { await pass() }
    }

    private func pass() async {
        guard !stopping else { return }
        await rt.upkeep(role: .master)
        await apply(lease.tick(now: rt.clock.monotonicNow))
        do {
            account = try await rt.store.account() ?? account
            if rt.databaseUnavailable == nil { outages.succeeded(at: rt.clock.now) } else { outages.failed(at: rt.clock.now) }
        } catch {
            outages.failed(at: rt.clock.now)
        }

        if lastRound == nil || rt.clock.now - lastRound! >= Double(settings.heartbeatInterval) {
            lastRound = rt.clock.now
            await heartbeatRound()
        }
        if lease.isPrimary(at: rt.clock.monotonicNow) {
            await primaryDuties()
        } else {
            stopControl(reason: "not the primary master")
        }
    }

    /// Renews the master lease when due, in a loop of its own (one DB call, not behind a step's reads).
    public func renewLease() async {
        await apply(lease.renewalDue(now: rt.clock.monotonicNow))
    }

    /// Watchdog between steps: a master whose lease lapsed stops acting at once.
    public func enforceLease() async {
        let now = rt.clock.monotonicNow
        if control != nil, !lease.isPrimary(at: now) {
            stopControl(reason: "master lease not confirmed")
        }
        if case .primary = lease.role, now >= lease.localExpiry {
            await apply(lease.tick(now: now))
        }
    }

    func apply(_ directives: [MasterLeaseMachine.Directive]) async {
        for d in directives {
            switch d {
            case .tryAcquire:
                let sentAt = rt.clock.monotonicNow
                do {
                    let status = try await rt.store.acquireMasterLease(node: rt.nodeID, ttl: rt.timings.masterLeaseTTL)
                    await apply(lease.acquired(status, sentAt: sentAt, now: rt.clock.monotonicNow))
                } catch {
                    rt.logger.event("db_error", "lease acquire failed: \(error)", level: .warning)
                }
            case .renew(let term):
                let sentAt = rt.clock.monotonicNow
                do {
                    let ok = try await rt.store.renewMasterLease(node: rt.nodeID, term: term, ttl: rt.timings.masterLeaseTTL)
                    await apply(lease.renewed(ok: ok, sentAt: sentAt))
                } catch {
                    rt.logger.event("db_error", "lease renewal failed: \(error)", level: .warning)
                }
            case .stepDown(let reason):
                stopControl(reason: "lost the master lease")
                rt.logger.event(.leaseLost(reason: reason, validFor: leaseValidFor), "master lease lost: \(reason)", level: .warning)
            case .becamePrimary(let term):
                rt.logger.event(.leaseAcquired(term: term, validFor: leaseValidFor), "won the master lease (term \(term))")
                rt.logger.event(.becamePrimaryMaster(term: term), "primary master")
                reportedUnhealthy = [:]
                broadcastVersion = 0
            case .becameSecondary(let primary):
                rt.logger.event(.becameSecondaryMaster(primary: primary), "secondary master (primary: \(primary ?? "none yet"))")
            }
        }
    }

    // MARK: heartbeats

    /// The coreapps in the DB, or as last read when it cannot be read.
    func coreapps() async -> [NodeRecord] {
        do {
            knownCoreapps = try await rt.store.nodes().filter { $0.role == .coreapp }
        } catch {
            outages.failed(at: rt.clock.now)
        }
        return knownCoreapps
    }

    func heartbeatRound() async {
        let now = rt.clock.now
        let nodes = await coreapps()
        let timeout = rt.real(Double(settings.unhealthyInterval), floor: 0.2)
        for node in nodes where monitor.readableAge(since: node.heartbeatAt, now: now, outages: outages) <= rt.timings.dbUnhealthyAfter {
            ledger.saw(node.nodeID, at: now)
            let peers = rt.peers, me = rt.nodeID
            rt.tasks.spawn {
                if (try? await peers.call(NodeRPC.Heartbeat.self, .init(master: me), on: node.rpcAddress, timeout: timeout)) != nil {
                    await self.answered(node.nodeID, sentAt: now)
                }
            }
        }
        // Report each coreapp's reference (last answer, else first sight), so a secondary
        // that never got an answer still votes once the coreapp has been silent long enough.
        var references: [String: LogicalInstant] = [:]
        for id in ledger.firstSeen.keys { references[id] = ledger.reference(id) }
        do { try await rt.store.reportHeartbeats(master: rt.nodeID, at: now, lastAnswered: references) }
        catch { rt.logger.event("db_error", "cannot report heartbeats: \(error)", level: .warning) }
    }

    func answered(_ node: String, sentAt: LogicalInstant) { ledger.answered(node, sentAt: sentAt) }

    // MARK: primary duties

    func guardNow() -> MasterGuard? {
        guard let term = lease.term, lease.isPrimary(at: rt.clock.monotonicNow) else { return nil }
        return MasterGuard(nodeID: rt.nodeID, term: term)
    }

    /// The lease's local expiry (a monotonic instant) as a logical wall-clock instant, for events.
    /// How long from now this master may still act on its lease, by its monotonic clock.
    var leaseValidFor: Double { ((lease.localExpiry - rt.clock.monotonicNow) * 1000).rounded() / 1000 }

    func primaryDuties() async {
        await broadcastSettingsIfChanged()
        guard let account, account.isRegistered else { stopControl(reason: "account not registered"); return }
        do {
            let now = rt.clock.now
            let moves = shardMoves
            let nodes = try await rt.store.nodes()
            let map = try await rt.store.shardMap()
            let byID = Dictionary(nodes.filter { $0.role == .coreapp }.map { ($0.nodeID, $0) }, uniquingKeysWith: { a, _ in a })
            let candidates = try await self.candidates(nodes: nodes, now: now)
            for c in candidates {
                let owned = map.shard(ownedBy: c.nodeID)
                if let verdict = c.unhealthy, let owned, reportedUnhealthy[c.nodeID] != "\(owned.epoch)" {
                    reportedUnhealthy[c.nodeID] = "\(owned.epoch)"
                    rt.logger.event(.coreappUnhealthy(hostname: c.hostname, shard: owned.shard, path: verdict.path, reason: verdict.description),
                                    "\(c.hostname) (shard \(owned.shard)) is unhealthy: \(verdict)", extra: ["node": c.nodeID], level: .warning)
                    page("CRITICAL: \(c.hostname), primary coreapp of shard \(owned.shard), is unhealthy (\(verdict)); failing it over",
                         key: "unhealthy/\(c.nodeID)/\(owned.epoch)", map: map, nodes: byID)
                }
            }
            if resharding { return }
            for decision in ShardPlanner.plan(shardCount: map.shardCount, map: map.rows, coreapps: candidates) {
                switch decision {
                case let .promote(shard, _, _, _) where handingOver.contains(shard):
                    continue
                case let .promote(shard, node, replacing, reason):
                    guard shardMoves == moves, !resharding, !handingOver.contains(shard) else { return }
                    guard let g = guardNow() else { return }
                    guard let row = try await rt.store.assignShard(shard, to: node, guard: g) else { continue }
                    reportedNoCandidate[shard] = nil
                    let host = byID[node]?.hostname ?? node
                    rt.logger.event("promotion", "promoted \(host) to primary coreapp of shard \(shard): \(reason)",
                                    ["shard": "\(shard)", "node": node, "hostname": host, "replacing": replacing.flatMap { byID[$0]?.hostname } ?? "",
                                     "epoch": "\(row.epoch)", "fence_until": "\(row.fenceUntil.seconds)", "reason": reason])
                    if let addr = byID[node]?.rpcAddress { notify(NodeRPC.ShardMapChanged.self, Empty(), at: addr) }
                case .deferred:
                    continue
                case let .noCandidate(shard, reason):
                    if reportedNoCandidate[shard] == nil || now - reportedNoCandidate[shard]! > 30 {
                        reportedNoCandidate[shard] = now
                        rt.logger.event("shard_unowned", "shard \(shard) has no owner: \(reason)", ["shard": "\(shard)", "reason": reason], level: .warning)
                        page("CRITICAL: shard \(shard) has no primary coreapp: \(reason)", key: "unowned/\(shard)/\(Int(now.seconds))", map: map, nodes: byID)
                    }
                }
            }
            if map.shardCount > 1 { ensureControl(phone: account.fullNumber) } else { stopControl(reason: "single shard: no control connection") }
        } catch {
            outages.failed(at: rt.clock.now)
            rt.logger.event("db_error", "primary duties failed: \(error)", level: .warning)
        }
    }

    /// Every coreapp as the planner sees it now: the failure detector's verdict, and whether it
    /// may be promoted (an owner releasing its shard for a handover may not).
    func candidates(nodes: [NodeRecord], now: LogicalInstant) async throws -> [CoreappCandidate] {
        let masterNames = Dictionary(nodes.filter { $0.role == .master }.map { ($0.nodeID, $0.hostname) }, uniquingKeysWith: { a, _ in a })
        // Peers are named by hostname so the unhealthy reason reads well in events.
        let peers = try await rt.store.peerReports(excluding: rt.nodeID).map { r -> PeerReport in
            var r = r; r.masterID = masterNames[r.masterID] ?? r.masterID; return r
        }
        return nodes.filter { $0.role == .coreapp }.map { c in
            CoreappCandidate(nodeID: c.nodeID, hostname: c.hostname,
                             unhealthy: monitor.verdict(for: c.nodeID, now: now, own: ledger, peers: peers,
                                                        dbHeartbeat: c.heartbeatAt, registeredAt: c.registeredAt, outages: outages),
                             promotable: !releasing.contains(c.nodeID)
                                && monitor.isPromotable(c.nodeID, now: now, own: ledger, dbHeartbeat: c.heartbeatAt, outages: outages),
                             pending: monitor.isPending(c.nodeID, now: now, own: ledger))
        }
    }

    // MARK: planned handover

    /// Moves a shard to a standby without waiting for failure detection: the owner releases it
    /// on request (leaves the gateway, frees the lease), the master assigns it to the standby
    /// in a new epoch (fenced until the old lease's end: now, when released), and the standby
    /// connects as soon as it holds the lease. An owner that cannot release (unreachable, or a
    /// release without `release_shard`) is fenced by its lease instead: slower, never overlapping.
    public func handover(_ p: NodeRPC.Handover.Params) async throws -> NodeRPC.Handover.Result {
        let started = rt.clock.monotonicNow
        _ = try requirePrimary()
        guard let account = try await rt.store.account(), account.isRegistered else {
            throw APIError(.serviceNotReady, "the account is not registered: no shard has an owner to hand over", status: 409)
        }
        let map = try await rt.store.shardMap()
        guard (0..<map.shardCount).contains(p.shard) else {
            throw APIError.invalid("shard", "must be 0 to \(map.shardCount - 1) (the cluster has \(map.shardCount) shard\(map.shardCount == 1 ? "" : "s"))")
        }
        guard !handingOver.contains(p.shard), !resharding else {
            throw APIError.conflict("shard", "shard \(p.shard) is being moved already; retry when that is done")
        }
        // Claimed before the next await: the actor is re-entrant, and a second handover of this
        // shard or a shard change must see this one.
        handingOver.insert(p.shard)
        defer { handingOver.remove(p.shard); shardMoves += 1 }
        guard let row = map.rows.first(where: { $0.shard == p.shard }), let owner = row.owner else {
            throw APIError.conflict("shard", "shard \(p.shard) has no owner to hand over; the primary master promotes a standby on its own")
        }
        let nodes = try await rt.store.nodes()
        let byID = Dictionary(nodes.filter { $0.role == .coreapp }.map { ($0.nodeID, $0) }, uniquingKeysWith: { a, _ in a })
        let busy = Set(map.rows.compactMap(\.owner))
        let standbys = try await candidates(nodes: nodes, now: rt.clock.now)
            .filter { $0.promotable && $0.unhealthy == nil && !busy.contains($0.nodeID) }
            .sorted(by: ShardPlanner.precedes)
        let target: CoreappCandidate
        if let wanted = p.to {
            guard let t = standbys.first(where: { $0.hostname == wanted || $0.nodeID == wanted }) else {
                throw APIError.invalid("to", "\(wanted) is not a healthy standby coreapp; standbys now: \(standbys.map(\.hostname).joined(separator: ", "))")
            }
            target = t
        } else {
            guard let t = standbys.first else {
                throw APIError.conflict("shard", "no healthy standby coreapp to hand shard \(p.shard) over to")
            }
            target = t
        }
        let ownerName = byID[owner]?.hostname ?? owner
        releasing.insert(owner)
        defer { releasing.remove(owner) }
        rt.logger.event("handover_started", "handing shard \(p.shard) over from \(ownerName) to \(target.hostname)",
                        ["shard": "\(p.shard)", "from": ownerName, "to": target.hostname])
        let released = await release(shard: p.shard, epoch: row.epoch, at: byID[owner]?.rpcAddress)
        let releasedAt = rt.clock.monotonicNow
        guard let g = guardNow(), let assigned = try await rt.store.assignShard(p.shard, to: target.nodeID, guard: g) else {
            throw APIError(.notPrimaryMaster, "lost the master lease during the handover of shard \(p.shard); retry", status: 403)
        }
        rt.logger.event("promotion", "promoted \(target.hostname) to primary coreapp of shard \(p.shard): planned handover from \(ownerName)",
                        ["shard": "\(p.shard)", "node": target.nodeID, "hostname": target.hostname, "replacing": ownerName,
                         "epoch": "\(assigned.epoch)", "fence_until": "\(assigned.fenceUntil.seconds)", "reason": "planned handover"])
        if let addr = byID[target.nodeID]?.rpcAddress {
            _ = try? await rt.peers.call(NodeRPC.ShardMapChanged.self, Empty(), on: addr, timeout: rt.real(2, floor: 0.2))
        }
        // Until the successor holds the lease: the fence (the old lease, when not released; on
        // the database's clock, so measured against the map's own reading time) and a few ticks
        // for the standby's step.
        let dbNow = (try? await rt.store.shardMap().asOf) ?? assigned.fenceUntil
        let wait = max(0, assigned.fenceUntil - dbNow) + 5 * rt.timings.tick
        var acquiredAt: LogicalInstant?
        let deadline = rt.clock.monotonicNow + wait
        while rt.clock.monotonicNow < deadline {
            if let r = try? await rt.store.shardMap().rows.first(where: { $0.shard == p.shard }) {
                guard r.epoch == assigned.epoch else { break }
                if r.leaseUntil != nil { acquiredAt = rt.clock.monotonicNow; break }
            }
            try await rt.clock.sleep(logicalSeconds: rt.timings.tick / 20)
        }
        let real = { (t: LogicalInstant) in ((self.rt.clock.scale.real(t - started)) * 1000).rounded() / 1000 }
        let result = NodeRPC.Handover.Result(shard: p.shard, from: ownerName, to: target.hostname, epoch: assigned.epoch, released: released,
                                             releasedAfter: released ? real(releasedAt) : nil, acquiredAfter: acquiredAt.map(real))
        rt.logger.event("handover_done", "shard \(p.shard) handed over from \(ownerName) to \(target.hostname)"
                            + (released ? "" : " (the owner did not release: its lease fenced it)")
                            + (acquiredAt == nil ? "; the new owner had not taken the lease within \(Int(wait)) logical s" : ""),
                        ["shard": "\(p.shard)", "from": ownerName, "to": target.hostname, "epoch": "\(assigned.epoch)", "released": "\(released)",
                         "released_after": result.releasedAfter.map { "\($0)" } ?? "", "acquired_after": result.acquiredAfter.map { "\($0)" } ?? ""])
        return result
    }

    /// Asks an owner to release its shard; false when it did not (or could not be asked).
    func release(shard: Int, epoch: Int, at address: HostPort?) async -> Bool {
        guard let address else { return false }
        let r = try? await rt.peers.call(NodeRPC.ReleaseShard.self, .init(shard: shard, epoch: epoch), on: address,
                                         timeout: rt.real(rt.timings.ownerCall, floor: ClusterTimings.ownerCallFloorReal))
        return r?.released ?? false
    }

    func broadcastSettingsIfChanged() async {
        let version = rt.settingsVersion
        guard version != broadcastVersion else { return }
        broadcastVersion = version
        for node in (try? await rt.store.nodes()) ?? [] where node.nodeID != rt.nodeID {
            notify(NodeRPC.SettingsChanged.self, .init(version: version), at: node.rpcAddress)
        }
    }

    /// Tells a peer something without waiting for its answer: a missed notice is caught up by
    /// the peer's own next pass over the database.
    func notify<M: RPCMethod>(_ method: M.Type, _ params: M.Params, at address: HostPort) {
        let peers = rt.peers, timeout = rt.real(2, floor: 0.2)
        rt.tasks.spawn { _ = try? await peers.call(method, params, on: address, timeout: timeout) }
    }

    // MARK: control shard (Multiconnect)

    func ensureControl(phone: String) {
        if let c = control {
            if case .closed = c.state { control = nil } else { return }
        }
        guard let gateway = rt.config.gatewayAddress, let term = lease.term else { return }
        let s = GatewaySession(shard: -1, epoch: term)
        control = s
        let rt = rt
        s.onConnected = { rt.logger.event(.gatewayConnected(shard: -1, epoch: nil), "connected to the gateway for the control shard") }
        rt.tasks.spawn {
            let reason = await s.run(gateway: gateway, runtime: rt, phone: phone)
            await self.controlEnded(s, reason: reason)
        }
    }

    func controlEnded(_ s: GatewaySession, reason: String) {
        rt.logger.event("gateway_disconnected", "control shard session ended: \(reason)", ["shard": "-1", "reason": reason])
        if control === s { control = nil }
    }

    func stopControl(reason: String) {
        guard let c = control else { return }
        control = nil
        c.stop(reason: reason)
    }

    // MARK: registration (primary only)

    func requirePrimary() throws(APIError) -> MasterGuard {
        guard let g = guardNow() else {
            throw APIError(.notPrimaryMaster, "this master is not the primary master; retry the request", status: 403)
        }
        return g
    }

    /// The WhatsApp server decides which certificates are good: its refusal is a 403, not a
    /// malformed request (the cert's shape is checked before, with a 400).
    static func certRefused(_ reason: String?) -> APIError {
        APIError(.parameterInvalid, "Parameter 'cert' is not valid: \(reason ?? "rejected by the WhatsApp server")", status: 403)
    }

    func gatewayAdmin(_ frame: GatewayFrame) async throws -> GatewayFrame {
        guard let gw = rt.config.gatewayAddress else { throw APIError.notReady("no gateway configured") }
        guard let secret = rt.keyring.current else { throw APIError.notReady("this master does not know the cluster secret yet; retry") }
        do {
            return try await GatewayAdmin.request(frame, gateway: gw, secret: secret, addressBook: rt.addressBook, group: rt.group, timeout: rt.real(5, floor: 1))
        } catch {
            throw APIError(.serviceNotReady, "the WhatsApp server is unreachable: \(error)", status: 503)
        }
    }

    public func register(_ p: NodeRPC.Register.Params) async throws -> NodeRPC.Register.Result {
        _ = try requirePrimary()
        if let a = account, a.isRegistered {
            guard a.cc == p.cc, a.phoneNumber == p.phoneNumber else {
                throw APIError(.alreadyExists, "this cluster is already registered for +\(a.cc) \(a.phoneNumber)", status: 409)
            }
            return .init(registered: true, vname: a.vname)
        }
        var f = GatewayFrame(.admin)
        f.op = "request_code"; f.cc = p.cc; f.phoneNumber = p.phoneNumber; f.cert = p.cert; f.method = p.method
        let answer = try await gatewayAdmin(f)
        guard answer.ok == true else { throw Self.certRefused(answer.reason) }
        let verified = answer.verified == true
        let record = AccountRecord(cc: p.cc, phoneNumber: p.phoneNumber, vname: answer.vname ?? "",
                                   state: verified ? .registered : .pendingCode, shards: account?.shards ?? 1,
                                   registeredAt: verified ? (account?.registeredAt ?? rt.clock.now) : nil)
        guard let g = guardNow(), try await rt.store.saveAccount(record, guard: g) else {
            throw APIError(.notPrimaryMaster, "lost the master lease while registering; retry", status: 403)
        }
        account = record
        rt.logger.event(verified ? "account_registered" : "verification_requested",
                        verified ? "account +\(p.cc) \(p.phoneNumber) registered" : "verification code sent by \(p.method)",
                        ["cc": p.cc, "phone_number": p.phoneNumber])
        return .init(registered: verified, vname: record.vname)
    }

    public func verify(_ p: NodeRPC.Verify.Params) async throws -> Empty {
        _ = try requirePrimary()
        guard var a = try await rt.store.account() else {
            throw APIError.conflict("code", "no registration is in progress; POST /v1/account first")
        }
        if a.isRegistered { return Empty() }
        var f = GatewayFrame(.admin)
        f.op = "verify_code"; f.cc = a.cc; f.phoneNumber = a.phoneNumber; f.code = p.code
        let answer = try await gatewayAdmin(f)
        guard answer.ok == true else { throw APIError(.parameterInvalid, "Parameter 'code' is not valid: \(answer.reason ?? "rejected by the WhatsApp server")", status: 403) }
        a.state = .registered
        a.registeredAt = rt.clock.now
        guard let g = guardNow(), try await rt.store.saveAccount(a, guard: g) else {
            throw APIError(.notPrimaryMaster, "lost the master lease while verifying; retry", status: 403)
        }
        account = a
        rt.logger.event("account_registered", "account +\(a.cc) \(a.phoneNumber) verified and registered", ["cc": a.cc, "phone_number": a.phoneNumber])
        return Empty()
    }

    public func setShards(_ p: NodeRPC.SetShards.Params) async throws -> Empty {
        _ = try requirePrimary()
        guard ShardRouter.validShardCounts.contains(p.shards) else {
            throw APIError.invalid("shards", "must be one of 1, 2, 4, 8, 16, 32")
        }
        guard var a = try await rt.store.account(), a.isRegistered || a.state == .loggedOff else {
            throw APIError(.serviceNotReady, "the account is not registered yet; register it with POST /v1/account first", status: 409)
        }
        guard a.cc == p.cc, a.phoneNumber == p.phoneNumber else {
            throw APIError.conflict("phone_number", "+\(p.cc) \(p.phoneNumber) is not the registered number")
        }
        if let cert = p.cert {
            var f = GatewayFrame(.admin)
            f.op = "check_cert"; f.cc = p.cc; f.phoneNumber = p.phoneNumber; f.cert = cert
            let answer = try await gatewayAdmin(f)
            guard answer.ok == true else { throw Self.certRefused(answer.reason) }
        } else {
            try await allowWithoutCert(a)
        }
        if a.state == .loggedOff {
            // The right cert logs the cluster on again.
            a.state = .registered
            guard let g = guardNow(), try await rt.store.saveAccount(a, guard: g) else {
                throw APIError(.notPrimaryMaster, "lost the master lease while logging on; retry", status: 403)
            }
            account = a
            rt.logger.event("account_logged_on", "account +\(a.cc) \(a.phoneNumber) logged on again with its cert", ["cc": a.cc, "phone_number": a.phoneNumber])
            for node in await coreapps() { notify(NodeRPC.ShardMapChanged.self, Empty(), at: node.rpcAddress) }
        }
        if a.shards == p.shards { return Empty() }
        guard !resharding, handingOver.isEmpty else {
            throw APIError.conflict("shards", "a shard change or handover is under way; retry when it is done")
        }
        resharding = true
        defer { resharding = false; shardMoves += 1 }
        // Owners release on command, so the new map's fence (the end of every old lease) is now
        // rather than a lease TTL away; an owner that does not answer is still fenced by its lease.
        await releaseEveryOwner()
        guard let g = guardNow(), try await rt.store.setShardCount(p.shards, guard: g) else {
            throw APIError(.notPrimaryMaster, "lost the master lease while changing shards; retry", status: 403)
        }
        account?.shards = p.shards
        rt.logger.event("shards_changed", "shard count \(a.shards) → \(p.shards); every coreapp drops its shard and is reassigned",
                        ["from": "\(a.shards)", "to": "\(p.shards)"])
        for node in await coreapps() { notify(NodeRPC.ShardMapChanged.self, Empty(), at: node.rpcAddress) }
        return Empty()
    }

    func releaseEveryOwner() async {
        guard let map = try? await rt.store.shardMap(), let nodes = try? await rt.store.nodes() else { return }
        let byID = Dictionary(nodes.map { ($0.nodeID, $0.rpcAddress) }, uniquingKeysWith: { a, _ in a })
        await withTaskGroup(of: Void.self) { group in
            for row in map.rows {
                guard let owner = row.owner else { continue }
                let address = byID[owner]
                group.addTask { _ = await self.release(shard: row.shard, epoch: row.epoch, at: address) }
            }
        }
    }

    /// The seed's rule for a shard change without `cert`: it works within 7 days of registration;
    /// later the WhatsApp server logs the cluster off, and the call says to send `cert`.
    func allowWithoutCert(_ a: AccountRecord) async throws {
        if a.state == .loggedOff {
            throw APIError.missing("cert").adding("the cluster is logged off; call again with the number's cert to log it on and set the shards")
        }
        guard let registeredAt = a.registeredAt else {
            throw APIError.missing("cert").adding("this cluster does not know when it was registered (it was registered by an earlier version); send the number's cert")
        }
        let age = rt.clock.now - registeredAt
        guard age > ClusterTimings.shardChangeWithoutCert else { return }
        var off = a
        off.state = .loggedOff
        guard let g = guardNow(), try await rt.store.saveAccount(off, guard: g) else {
            throw APIError(.notPrimaryMaster, "lost the master lease while changing shards; retry", status: 403)
        }
        account = off
        stopControl(reason: "logged off")
        let days = String(format: "%.1f", age / 86_400)
        rt.logger.event("account_logged_off", "shard change without cert \(days) days after registration: the WhatsApp server logged the cluster off",
                        ["cc": a.cc, "phone_number": a.phoneNumber, "days": days], level: .error)
        for node in await coreapps() { notify(NodeRPC.ShardMapChanged.self, Empty(), at: node.rpcAddress) }
        throw APIError.missing("cert").adding("\(days) days have passed since registration (without cert the call works for 7 days), so the cluster is now logged off; call again with the number's cert to log it on and set the shards")
    }

    // MARK: contacts

    /// `POST /v1/contacts`: each input is `invalid` (not a phone number or not on WhatsApp),
    /// `valid` with its WhatsApp id, or (without waiting) `processing` until it was looked up.
    public func checkContacts(_ p: NodeRPC.CheckContacts.Params) async throws -> NodeRPC.CheckContacts.Result {
        _ = try requirePrimary()
        let ids = p.contacts.map(RequestRules.contactID)
        let unknown = Array(Set(ids.compactMap { $0 }.filter { contactCache[$0] == nil }))
        if p.wait { try await lookUpContacts(unknown) }
        else if !unknown.isEmpty {
            let fresh = unknown.filter { !contactsInFlight.contains($0) }
            contactsInFlight.formUnion(fresh)
            if !fresh.isEmpty { rt.tasks.spawn { try? await self.lookUpContacts(fresh) } }
        }
        return .init(contacts: zip(p.contacts, ids).map { input, id in
            guard let id else { return .init(input: input, status: "invalid", waID: nil) }
            switch contactCache[id] {
            case true?: return .init(input: input, status: "valid", waID: id)
            case false?: return .init(input: input, status: "invalid", waID: nil)
            case nil: return .init(input: input, status: "processing", waID: nil)
            }
        })
    }

    func lookUpContacts(_ ids: [String]) async throws {
        defer { contactsInFlight.subtract(ids) }
        guard !ids.isEmpty else { return }
        var f = GatewayFrame(.admin)
        f.op = "check_contacts"; f.ids = ids
        let answer = try await gatewayAdmin(f)
        guard answer.ok == true else { throw APIError(.serviceNotReady, "the WhatsApp server did not check the contacts: \(answer.reason ?? "no reason")", status: 503) }
        for id in answer.ids ?? [] { contactCache[id] = true }
        for id in answer.absent ?? [] { contactCache[id] = false }
        if contactCache.count > 100_000 { contactCache.removeAll() }
    }

    /// Stores a restored backup's account and tells the WhatsApp server the number is this
    /// cluster's (a backup moves a setup between clusters).
    public func restoreAccount(_ p: NodeRPC.RestoreAccount.Params) async throws -> Empty {
        _ = try requirePrimary()
        if let a = try await rt.store.account(), a.state != .pendingCode, a.fullNumber != p.cc + p.phoneNumber {
            throw APIError(.alreadyExists, "this cluster is registered for +\(a.cc) \(a.phoneNumber); the backup is of +\(p.cc) \(p.phoneNumber)", status: 409)
        }
        var f = GatewayFrame(.admin)
        f.op = "restore_account"; f.cc = p.cc; f.phoneNumber = p.phoneNumber; f.vname = p.vname
        let answer = try await gatewayAdmin(f)
        guard answer.ok == true else { throw APIError(.serviceNotReady, "the WhatsApp server refused the restored number: \(answer.reason ?? "no reason")", status: 503) }
        let record = AccountRecord(cc: p.cc, phoneNumber: p.phoneNumber, vname: p.vname, state: .registered, shards: p.shards,
                                   registeredAt: account?.registeredAt ?? rt.clock.now)
        guard let g = guardNow(), try await rt.store.saveAccount(record, guard: g) else {
            throw APIError(.notPrimaryMaster, "lost the master lease while restoring; retry", status: 403)
        }
        if (try await rt.store.shardMap()).shardCount != p.shards, let g = guardNow() {
            _ = try await rt.store.setShardCount(p.shards, guard: g)
        }
        account = record
        rt.logger.event("account_restored", "account +\(p.cc) \(p.phoneNumber) restored from a backup", ["cc": p.cc, "phone_number": p.phoneNumber])
        for node in await coreapps() { notify(NodeRPC.ShardMapChanged.self, Empty(), at: node.rpcAddress) }
        return Empty()
    }

    // MARK: on-call pager

    /// Sends a critical error to `on_call_pager` as a text message, through the owner of the
    /// pager's shard like any message (stored, delivered, its statuses called back). The key
    /// makes a repeat of the same page one message.
    func page(_ text: String, key: String, map: ShardMapSnapshot, nodes: [String: NodeRecord]) {
        guard let pager = settings.onCallPager, settings.webhookURL != nil else { return }
        let shard = ShardRouter.shard(for: pager, shards: map.shardCount)
        guard let owner = map.owner(of: shard), let address = nodes[owner]?.rpcAddress else {
            rt.logger.event("page_undelivered", "no owner for the pager's shard \(shard): \(text)", ["shard": "\(shard)"], level: .warning)
            return
        }
        let body = String("[\(rt.config.hostname)] \(text)".prefix(RequestRules.maxTextBodyCharacters))
        let params = NodeRPC.SendMessage.Params(to: pager, body: body, idempotencyKey: IdempotencyScope.key(user: "on_call_pager", key: key))
        let peers = rt.peers, timeout = rt.real(rt.timings.ownerCall, floor: ClusterTimings.ownerCallFloorReal), logger = rt.logger
        rt.tasks.spawn {
            do {
                let r = try await peers.call(NodeRPC.SendMessage.self, params, on: address, timeout: timeout)
                logger.event("paged", "paged \(pager): \(text)", ["id": r.id, "to": pager])
            } catch {
                logger.event("page_undelivered", "could not page \(pager): \(error)", ["to": pager], level: .warning)
            }
        }
    }

    public func support() -> NodeRPC.Support.Result {
        let primary = lease.isPrimary(at: rt.clock.monotonicNow)
        let multi = (account?.shards ?? 1) > 1
        let conn: String = switch control?.state { case .connected?: "connected"; case .connecting?: "connecting"; default: "disconnected" }
        return .init(role: primary ? "primary_master" : "secondary_master", shards: primary && multi ? [[-1, -1]] : [],
                     socketConn: conn, dbEngine: rt.config.database.engine.rawValue, multiConnect: multi,
                     version: NodeRuntime.version, schemaVersion: ClusterSchema.version)
    }

    // MARK: health and shutdown

    public func health() -> JSONValue {
        let primary = lease.isPrimary(at: rt.clock.monotonicNow)
        let role = primary ? "primary_master" : "secondary_master"
        guard rt.isSchemaReady else { return HealthEntry.status("uninitialized", role: role) }
        if rt.databaseUnavailable != nil { return HealthEntry.databaseUnreachable(rt.config.hostname) }
        guard let account, account.isRegistered else {
            return primary ? HealthEntry.status("unregistered", role: role) : HealthEntry.notInstantiated
        }
        guard primary, account.shards > 1 else { return HealthEntry.status("disconnected", role: role) }
        let status: String = switch control?.state {
        case .connected?: "connected"
        case .connecting?: "connecting"
        default: "disconnected"
        }
        return HealthEntry.status(status, role: role)
    }

    public func shutdown() async {
        stopping = true
        stopControl(reason: "master shutting down")
        if let term = lease.term {
            try? await rt.store.releaseMasterLease(node: rt.nodeID, term: term)
            rt.logger.event(.leaseLost(reason: "shutdown", validFor: min(0, leaseValidFor)), "released the master lease on shutdown")
        }
        lease.resign()
    }
}
