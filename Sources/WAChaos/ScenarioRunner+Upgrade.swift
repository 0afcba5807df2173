import ChaosCheckers
import ChaosScenario
import Foundation
import WACore
import WATestKit
import WAWire

/// Builds, mixed versions and upgrades (SPEC §13): which `wacluster` each node runs, the
/// `upgrade`, `dbupgrade` and `handover` steps, and what they record for the upgrade checker.
extension ScenarioRunner {
    /// The `wacluster` of a build: `--build NAME=DIR` over the topology's `builds`; `new` is
    /// the runner's own unless named.
    func binary(ofBuild name: String) throws -> String {
        let dir = options.builds[name] ?? scenario.topology.builds[name]
        guard let dir else {
            guard name == Topology.newBuild else {
                throw RunnerError("build \(name) has no folder: name it under topology.builds or pass --build \(name)=DIR (ci/upgrade.sh builds one)")
            }
            return cluster.binary
        }
        let path = (dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir) + "/wacluster"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw RunnerError("build \(name): no wacluster binary at \(path); build it (ci/upgrade.sh REF builds a git ref) or fix the folder")
        }
        return path
    }

    /// Every product node starts on its topology build (the gateway, the simulated WhatsApp
    /// server, is the runner's own).
    func assignBuilds() throws {
        for name in cluster.nodes.keys where name != ClusterNodeNames.gateway && cluster.nodes[name]?.executable == nil {
            let build = scenario.topology.build(of: name)
            cluster.setBinary(name, try binary(ofBuild: build))
            builds[name] = build
        }
        let mixed = Set(builds.values)
        if mixed.count > 1 || mixed.first != Topology.newBuild {
            note("boot", "builds: " + builds.sorted { ClusterNodeNames.naturallyPrecedes($0.key, $1.key) }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        }
    }

    /// `dbupgrade: BUILD`: that build's dbupgrade, online; the nodes keep their builds.
    func dbupgradeOnly(build: String, line: Int) async throws {
        let outcome = try await cluster.dbupgrade(binary: try binary(ofBuild: build))
        let text = String(format: "dbupgrade of build %@ exited %d in %.2fs", build, outcome.exitCode, outcome.seconds)
        guard outcome.exitCode == 0 else { throw RunnerError("\(text): \(outcome.lastLine)") }
        note("step", "\(text); the nodes stay on their builds")
    }

    /// `handover: {shard, to}` on its own.
    func handoverStep(shard: Int, to: NodeSelector?, line: Int) async throws {
        let target = try to.map { try resolve($0) }
        // The owner is the fault's target, so the sends its shard fails while it moves are
        // explained by this step (and only that shard's).
        let owner = observer.owners()[shard]
        let id = inject("handover", "planned handover of shard \(shard)\(target.map { " to \($0)" } ?? "")", targets: owner.map { [$0] } ?? [],
                        healedBy: "handover:\(shard)", line: line, allShards: owner == nil) {}
        let r = try await cluster.handover(shard: shard, to: target, timeout: max(10, real(60)))
        heal("handover:\(shard)", f: "handover", value: "shard \(shard) handed over", line: line, ids: [id])
        note("step", handoverText(r))
        if !r.released || r.acquiredAfter == nil {
            record(CheckResult(name: "handover shard \(shard)", line: line, verdict: .fail,
                               reason: handoverText(r) + (r.released ? "" : ": the owner did not release on request")))
        }
    }

    func handoverText(_ r: NodeRPC.Handover.Result) -> String {
        "shard \(r.shard) handed over \(r.from) → \(r.to) (epoch \(r.epoch)): "
            + (r.releasedAfter.map { String(format: "released after %.3fs, ", $0) } ?? "the owner did not release (fenced by its lease), ")
            + (r.acquiredAfter.map { String(format: "new owner held the lease after %.3fs", $0) } ?? "the new owner had not taken the lease")
    }

    /// `upgrade: {to, strategy}`: the target build's dbupgrade (exit code and time kept), then
    /// every webapp, master and coreapp moves to it in the strategy's order. The database
    /// server (the db node on the embedded engine) keeps its build: it runs the migrations
    /// dbupgrade hands it, as PostgreSQL runs a newer release's DDL.
    func upgrade(_ plan: UpgradePlan, line: Int) async throws {
        let target = try binary(ofBuild: plan.to)
        let faultID = inject("upgrade", "upgrade to build \(plan.to) (\(plan.strategy.rawValue))", targets: [], healedBy: "upgrade:\(line)", line: line, allShards: true) {}
        let began = now()
        let outcome: DBUpgradeOutcome
        do { outcome = try await cluster.dbupgrade(binary: target, extraEnvironment: plan.failDBUpgrade ? ["WA_TEST_FAIL_DBUPGRADE": "1"] : [:]) }
        catch {
            heal("upgrade:\(line)", f: "upgraded", value: "upgrade to \(plan.to) abandoned: \(error)", line: line, ids: [faultID])
            throw error
        }
        var rec = UpgradeRecord(line: line, to: plan.to, strategy: plan.strategy.rawValue, seed: plan.strategy == .random ? (plan.seed ?? seed) : nil,
                                startedAt: began, endedAt: now(), dbupgradeExit: outcome.exitCode, dbupgradeSeconds: outcome.seconds,
                                dbupgradeLine: outcome.lastLine, dbupgradeExpectedToFail: plan.failDBUpgrade,
                                maxUnavailableReal: plan.maxUnavailable.map(real))
        defer { upgrades.append(rec); heal("upgrade:\(line)", f: "upgraded", value: "upgrade to \(plan.to) done", line: line, ids: [faultID]) }
        let db = String(format: "dbupgrade of build %@ exited %d in %.2fs", plan.to, outcome.exitCode, outcome.seconds)
        guard outcome.exitCode == 0 else {
            note("upgrade", "\(db): \(outcome.lastLine); no node moves, the cluster stays on its builds")
            if plan.failDBUpgrade { return }
            throw RunnerError("\(db): \(outcome.lastLine); no node was moved, the cluster stays on its builds (see \(outcome.log))")
        }
        note("upgrade", db)
        let order = try moveOrder(plan)
        rec.plan = order
        note("upgrade", "plan (\(plan.strategy.rawValue)\(rec.seed.map { ", seed \($0)" } ?? "")): " + order.joined(separator: " → "))
        try? (order.joined(separator: "\n") + "\n").write(toFile: "\(directory)/upgrade-plan-line\(line).txt", atomically: true, encoding: .utf8)
        if plan.strategy == .allAtOnce {
            try await moveAllAtOnce(order, to: plan.to, binary: target, record: &rec)
        } else {
            for n in order { try await move(n, to: plan.to, binary: target, record: &rec) }
        }
        // Defined nodes that are not running (standby coreapps not started, stopped ones) start
        // on the new build when a later step starts them.
        for n in cluster.nodes.keys where builds[n] != nil && builds[n] != plan.to && !order.contains(n) && n != ClusterNodeNames.database {
            cluster.setBinary(n, target)
            note("version", "\(n) (not running): build \(builds[n]!) → \(plan.to) at its next start")
            builds[n] = plan.to
        }
        rec.endedAt = now()
        note("upgrade", String(format: "every node on build %@ after %.2fs", plan.to, rec.endedAt - began))
    }

    /// The plan for the cluster as it is now (the database server stays: see `upgrade`).
    func moveOrder(_ plan: UpgradePlan) throws -> [String] {
        let nodes = observer.snapshot().nodes.filter { cluster.nodes[$0.name] != nil }
        return UpgradeOrder.plan(plan.strategy, nodes: nodes, seed: plan.seed ?? seed)
    }

    /// One node to the new build: an owner first hands its shard over (the standby it goes to
    /// is already serving when the owner stops), then SIGTERM, and a start on the new binary.
    func move(_ n: String, to build: String, binary: String, record rec: inout UpgradeRecord) async throws {
        let me = observer.snapshot().nodes.first { $0.name == n }
        let owned = me?.ownedShard
        if let shard = owned, cluster.nodes[n]?.role == .coreapp {
            let r = try await cluster.handover(shard: shard, timeout: max(15, real(60)))
            rec.handovers.append(.init(shard: shard, from: r.from, to: r.to, released: r.released, acquiredAfter: r.acquiredAfter))
            note("handover", handoverText(r))
        }
        let stopped = now()
        try await stopGracefully([n])
        if me?.isPrimaryMaster == true, cluster.layout.masterNames.contains(where: { $0 != n && cluster.process($0)?.isAlive == true }) {
            // The lease passes to a master already moved (it released it on SIGTERM) before
            // this one returns: leadership moves once, and who leads after is not a race.
            _ = try await cluster.waitForHealth(timeout: max(15, real(60))) { h in
                h.entries.contains { $0.key != n && $0.value.role == "primary_master" }
            }
        }
        cluster.setBinary(n, binary)
        try cluster.start(n)
        try await cluster.waitForNodeStarted(n, timeout: 30)
        lived(n, .running)
        rec.moves.append(.init(node: n, from: builds[n] ?? Topology.newBuild, to: build, stoppedAt: stopped, startedAt: now()))
        note("version", "\(n): build \(builds[n] ?? Topology.newBuild) → \(build)")
        builds[n] = build
        // The next move may need this node (the standby a handover goes to): wait until the
        // cluster says it is back.
        try await waitUntilRejoined(n)
    }

    /// The seeds' way: stop every node, start every node on the new build.
    func moveAllAtOnce(_ order: [String], to build: String, binary: String, record rec: inout UpgradeRecord) async throws {
        let stopped = now()
        try await stopGracefully(order)
        let masters = order.filter { cluster.nodes[$0]?.role == .master }.sorted(by: ClusterNodeNames.naturallyPrecedes)
        let rest = order.filter { cluster.nodes[$0]?.role != .master }
        // As at boot, the first master is given the lease before the others start, so which
        // master is primary afterwards (and every golden) does not depend on a race.
        for n in masters + rest { cluster.setBinary(n, binary) }
        if let first = masters.first {
            try cluster.start(first)
            try await cluster.waitForEvent(first, "lease_acquired", timeout: max(10, real(60)))
        }
        for n in masters.dropFirst() + rest { try cluster.start(n) }
        for n in masters + rest {
            try await cluster.waitForNodeStarted(n, timeout: 30)
            lived(n, .running)
            rec.moves.append(.init(node: n, from: builds[n] ?? Topology.newBuild, to: build, stoppedAt: stopped, startedAt: now()))
            note("version", "\(n): build \(builds[n] ?? Topology.newBuild) → \(build)")
            builds[n] = build
        }
        _ = try await cluster.waitForHealth(timeout: max(30, real(120))) { self.isHealthy($0) }
    }

    /// SIGTERM, and SIGKILL after 10 s: a graceful stop, as `docker stop` does.
    func stopGracefully(_ names: [String]) async throws {
        for n in names {
            cluster.terminate(n)
            deaths[n, default: []].append(now())
        }
        for n in names {
            if await cluster.process(n)?.waitForExit(timeout: .seconds(10)) == nil {
                cluster.kill(n)
                _ = await cluster.process(n)?.waitForExit(timeout: .seconds(5))
                note("upgrade", "\(n) did not stop within 10 s of SIGTERM: SIGKILL")
            }
            lived(n, .down)
        }
    }

    /// A moved master or coreapp is back when health lists it without an error and the cluster
    /// is healthy (a webapp is back once it logged node_started).
    func waitUntilRejoined(_ n: String) async throws {
        let role = cluster.nodes[n]?.role
        _ = try await cluster.waitForHealth(timeout: max(30, real(120))) { h in
            guard role == .master || role == .coreapp else { return true }
            guard let e = h.entries.first(where: { $0.key == n })?.value else { return false }
            return e.errorCode == nil && self.isHealthy(h)
        }
    }
}
