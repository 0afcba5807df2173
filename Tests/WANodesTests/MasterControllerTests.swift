import Foundation
import ShellTestKit
import Testing
import WACore
import WANodes
import WAStore
import WAWire

/// The master's shell driven in-process: a manual clock, a temporary store, fake peers.
@Suite("Master controller")
struct MasterControllerTests {
    /// master1 (not yet primary) and wacore1 registered in the store.
    func masterAndOneCoreapp() async throws -> (ShellFixture, NodeRuntime, MasterController, NodeRecord) {
        let f = try await ShellFixture()
        let rt = try f.runtime(.master, hostname: "master1", nodeID: "m1", port: 7010)
        let core = f.coreappRecord("c1", hostname: "wacore1", port: 7110)
        try await f.store.upsertNode(core)
        return (f, rt, MasterController(runtime: rt), core)
    }

    @Test func theOnlyMasterWinsTheLeaseAndPromotesTheCoreappThatAnswersHeartbeats() async throws {
        let (f, rt, master, core) = try await masterAndOneCoreapp()
        f.peers.answerHeartbeats(at: core.rpcAddress)

        try await withSideWork(rt) {
            await master.step()
            #expect(try await f.store.masterLease().holder == "m1")
            try await f.registerAccount(holder: "m1")
            // The first round's heartbeat answer arrives on the side; the next pass may promote.
            #expect(await settles { f.peers.calls(NodeRPC.Heartbeat.name).count >= 1 })
            var promoted = false
            for _ in 0..<5 where !promoted {
                f.clock.advance(by: rt.timings.tick)
                await master.step()
                promoted = try await f.store.shardMap().shard(ownedBy: "c1") != nil
            }
            #expect(promoted, "wacore1 answered every heartbeat and was never promoted")
            let row = try #require(try await f.store.shardMap().shard(ownedBy: "c1"))
            #expect(row.shard == 0)
            #expect(row.epoch >= 1)
            // The new owner is told at once rather than finding out on its next pass.
            #expect(await settles { f.peers.calls(NodeRPC.ShardMapChanged.name).contains { $0.peer == core.rpcAddress } })
            #expect(f.events().contains { $0.event == "promotion" && $0.fields["hostname"] == "wacore1" })
        }
    }

    @Test func aCoreappThatNeverAnswersIsNotPromoted() async throws {
        let (f, rt, master, _) = try await masterAndOneCoreapp()

        try await withSideWork(rt) {
            await master.step()
            try await f.registerAccount(holder: "m1")
            for _ in 0..<5 {
                f.clock.advance(by: rt.timings.tick)
                await master.step()
            }
            #expect(try await f.store.shardMap().shard(ownedBy: "c1") == nil)
            #expect(await settles { f.peers.calls(NodeRPC.Heartbeat.name).count >= 1 }, "the master never asked wacore1")
            #expect(await !settles(within: 0.5) { !f.peers.calls(NodeRPC.ShardMapChanged.name).isEmpty })
        }
    }

    @Test func changedSettingsAreBroadcastToEveryOtherNodeOnce() async throws {
        let (f, rt, master, core) = try await masterAndOneCoreapp()

        try await withSideWork(rt) {
            // A new primary tells everyone the settings version it found.
            await master.step()
            #expect(await settles { f.peers.calls(NodeRPC.SettingsChanged.name).count == 1 })
            var settings = ApplicationSettings()
            settings.heartbeatInterval = 7
            let version = try await f.store.saveSettings(settings)
            f.clock.advance(by: rt.timings.tick)
            await master.step()
            #expect(rt.settings.heartbeatInterval == 7)
            #expect(await settles { f.peers.calls(NodeRPC.SettingsChanged.name).count == 2 })
            let told = f.peers.calls(NodeRPC.SettingsChanged.name)
            #expect(told.map(\.peer) == [core.rpcAddress, core.rpcAddress], "the master tells the others, not itself")
            #expect(told.last?.params.contains("version: \(version)") == true, "\(told)")
            // Nothing changed since: no further broadcast (given the side work time to send one).
            f.clock.advance(by: rt.timings.tick)
            await master.step()
            #expect(await !settles(within: 0.5) { f.peers.calls(NodeRPC.SettingsChanged.name).count > 2 })
        }
    }

    /// SPEC §12: no decision on data nobody could write. While the master cannot read the
    /// database nobody can write a DB heartbeat row, so when it returns every row is old; the
    /// master counts only the time it could read, and kept heartbeating the coreapps meanwhile.
    @Test func aMasterThatCouldNotReadTheDatabaseFailsNoOwnerOverWhenItReturns() async throws {
        let (f, rt, master, core) = try await masterAndOneCoreapp()
        f.peers.answerHeartbeats(at: core.rpcAddress)
        try await rt.waitForSchema()
        try await withSideWork(rt) {
            await master.step()
            try await f.registerAccount(holder: "m1")
            // Heartbeat answers arrive on the side: step until one is in and wacore1 promoted.
            let promoted = await settles {
                f.clock.advance(by: rt.timings.tick)
                await master.step()
                return (try? await f.store.shardMap().shard(ownedBy: "c1")) != nil
            }
            #expect(promoted)
            let heartbeatsBefore = f.peers.calls(NodeRPC.Heartbeat.name).count

            f.cutDatabase()
            for _ in 0..<150 {
                f.clock.advance(by: rt.timings.tick)
                await master.step()
            }
            #expect(await settles { f.peers.calls(NodeRPC.Heartbeat.name).count >= heartbeatsBefore + 20 },
                    "heartbeats are node to node: they go on while the database is away")
            let health = await master.health()
            #expect(health["errors"]?.arrayValue?.first?["code"]?.intValue == APIErrorCode.databaseError.rawValue,
                    "health says the master cannot reach the database: \(health)")

            f.healDatabase()
            for _ in 0..<30 {
                f.clock.advance(by: rt.timings.tick)
                await master.step()
            }
            #expect(try await f.store.shardMap().shard(ownedBy: "c1") != nil)
            #expect(!f.events().contains { $0.event == "coreapp_unhealthy" }, "a failover storm on rows nobody could write")
            #expect(await master.support().role == "primary_master")

            // The row keeps ageing once the database is readable: 120 readable seconds after it
            // was written, DB-based monitoring declares the (silent) coreapp, as the product does.
            for _ in 0..<100 {
                f.clock.advance(by: rt.timings.tick)
                await master.step()
            }
            #expect(f.events().contains { $0.event == "coreapp_unhealthy" && $0.fields["path"] == "db" })
        }
    }

    @Test func aSecondMasterStaysSecondaryWhileTheLeaseIsHeld() async throws {
        let f = try await ShellFixture()
        let first = MasterController(runtime: try f.runtime(.master, hostname: "master1", nodeID: "m1", port: 7010))
        let second = MasterController(runtime: try f.runtime(.master, hostname: "master2", nodeID: "m2", port: 7020))
        await first.step()
        await second.step()
        #expect(await first.support().role == "primary_master")
        #expect(await second.support().role == "secondary_master")
        #expect(try await f.store.masterLease().holder == "m1")
    }

    /// SPEC §13's planned handover, in-process: the owner (a real coreapp controller) releases
    /// on the master's request, the standby is promoted in a new epoch with no fence to wait
    /// out, and takes the lease at once; the released owner does not take the shard back.
    @Test func aPlannedHandoverMovesTheShardWithoutWaitingForTheOldLease() async throws {
        let f = try await ShellFixture()
        let rt = try f.runtime(.master, hostname: "master1", nodeID: "m1", port: 7010)
        let master = MasterController(runtime: rt)
        let rt1 = try f.runtime(.coreapp, hostname: "wacore1", nodeID: "c1", port: 7110)
        let rt2 = try f.runtime(.coreapp, hostname: "wacore2", nodeID: "c2", port: 7120)
        let (c1, c2) = (CoreappController(runtime: rt1), CoreappController(runtime: rt2))
        rt1.markSchemaReady(); rt2.markSchemaReady()
        try await rt1.registerSelf(role: .coreapp)
        try await rt2.registerSelf(role: .coreapp)
        f.peers.answerHeartbeats(at: rt1.config.rpcAddress)
        f.peers.answerHeartbeats(at: rt2.config.rpcAddress)
        // While the handover runs (the owner has released, the standby is not assigned yet), a
        // planner pass sees an ownerless shard: it must leave it to the handover.
        let ownerMidHandover = Locked<[String?]>([])
        f.peers.answer(NodeRPC.ReleaseShard.self, awaiting: { p, peer in
            guard peer == rt1.config.rpcAddress else { throw FixtureError("only wacore1 owns a shard") }
            let r = await c1.releaseShard(p)
            await master.step()
            let owner = try await f.store.shardMap().owner(of: 0)
            ownerMidHandover.withLock { $0.append(owner) }
            return r
        })
        f.peers.answer(NodeRPC.ShardMapChanged.self, awaiting: { _, peer in
            if peer == rt2.config.rpcAddress { await c2.step() } else { await c1.step() }
            return Empty()
        })

        try await withSideWork(rt) {
            await master.step()
            try await f.registerAccount(holder: "m1")
            for _ in 0..<6 where try await f.store.shardMap().owner(of: 0) == nil {
                f.clock.advance(by: rt.timings.tick)
                await master.renewLease()
                await master.step()
            }
            #expect(try await f.store.shardMap().owner(of: 0) == "c1", "wacore1 (the lowest hostname) is promoted first")
            // The promotion's ShardMapChanged (side work) may be running a step of wacore1's
            // already: this call then returns after the next pass, so the lease is taken by then.
            await c1.step()
            let before = try #require(try await f.store.shardMap().rows.first)
            let oldLeaseEnd = try #require(before.leaseUntil, "wacore1 holds the lease")

            let result = try await master.handover(.init(shard: 0))
            #expect(result.from == "wacore1")
            #expect(result.to == "wacore2")
            #expect(result.released)
            #expect(result.epoch > before.epoch)
            #expect(result.acquiredAfter != nil, "wacore2 took the lease while the master waited")
            #expect(ownerMidHandover.value == [nil], "the planner promoted someone while the handover was under way")
            let after = try #require(try await f.store.shardMap().rows.first)
            #expect(after.owner == "c2")
            #expect(after.fenceUntil < oldLeaseEnd, "released: the successor's fence is not the old lease's end")
            #expect(await c2.heartbeat().shard == 0)
            #expect(await c1.heartbeat().shard == nil)
            // The old owner's next pass does not bring it back, and the planner leaves the shard alone.
            f.clock.advance(by: rt.timings.tick)
            await c1.step()
            await master.step()
            #expect(try await f.store.shardMap().owner(of: 0) == "c2")
            #expect(await c1.heartbeat().shard == nil)
            #expect(f.events().contains { $0.event == "handover_done" && $0.fields["released"] == "true" })
        }
    }

    @Test func aHandoverWithNoStandbyOrNoOwnerSaysWhy() async throws {
        let (f, rt, master, core) = try await masterAndOneCoreapp()
        f.peers.answerHeartbeats(at: core.rpcAddress)
        try await withSideWork(rt) {
            await master.step()
            await #expect(throws: APIError.self) { try await master.handover(.init(shard: 0)) }
            try await f.registerAccount(holder: "m1")
            do { _ = try await master.handover(.init(shard: 3)); Issue.record("shard 3 of 1 was handed over") }
            catch let e as APIError { #expect(e.details.contains("must be 0 to 0"), "\(e)") }
            do { _ = try await master.handover(.init(shard: 0)); Issue.record("an unowned shard was handed over") }
            catch let e as APIError { #expect(e.details.contains("no owner"), "\(e)") }
        }
    }
}
