import Foundation
import ShellTestKit
import Testing
import WACore
import WANodes
import WAStore

/// The coreapp's shell driven in-process: two coreapps, one shard, a manual clock.
@Suite("Coreapp controller")
struct CoreappControllerTests {
    /// The master moves shard 0 from wacore1 to wacore2. wacore2 may serve only after wacore1's
    /// lease has run out (the fence), and at no instant do both serve.
    @Test func aReassignedShardIsHandedOverOnlyAfterTheFence() async throws {
        let f = try await ShellFixture()
        _ = try await f.store.acquireMasterLease(node: "m1", ttl: 3600)
        try await f.registerAccount(holder: "m1")
        let term = try await f.store.masterLease().lease.term
        let masterGuard = MasterGuard(nodeID: "m1", term: term)
        let first = CoreappController(runtime: try f.runtime(.coreapp, hostname: "wacore1", nodeID: "c1", port: 7110))
        let second = CoreappController(runtime: try f.runtime(.coreapp, hostname: "wacore2", nodeID: "c2", port: 7120))
        let timings = ClusterTimings.standard

        let assigned = try #require(try await f.store.assignShard(0, to: "c1", guard: masterGuard))
        await first.step()
        await first.step()
        #expect(await first.heartbeat().shard == 0, "wacore1 was assigned shard 0 and never served it")

        // wacore1 is cut off from the database (it cannot renew; only its own watchdog runs)
        // while the master moves the shard.
        let moved = try #require(try await f.store.assignShard(0, to: "c2", guard: masterGuard))
        #expect(moved.epoch > assigned.epoch)
        let handOver = f.clock.now
        var servedAt: Double?
        for _ in 0..<Int(timings.shardLeaseTTL * 4) + 8 {
            f.clock.advance(by: 0.25)
            await first.enforceLease()
            await second.step()
            await second.enforceLease()
            let serving = await second.heartbeat().shard == 0
            let stillServing = await first.heartbeat().shard == 0
            #expect(!(serving && stillServing), "both served shard 0 at +\(f.clock.now - handOver)s")
            if serving, servedAt == nil { servedAt = f.clock.now - handOver }
        }
        let waited = try #require(servedAt, "wacore2 never took shard 0 over")
        // wacore1 renewed last at the hand-over: its lease ran shardLeaseTTL from then.
        #expect(waited >= timings.shardLeaseTTL, "wacore2 served \(waited)s after the move, inside wacore1's lease")
        #expect(waited <= timings.shardLeaseTTL + 2 * timings.tick + 0.5)

        // Its own clock said its lease ended, so it had already stopped serving.
        #expect(await first.heartbeat().shard == nil, "wacore1 still serves shard 0 after its lease ran out")
        await first.step()
        #expect(await first.heartbeat().shard == nil)
        #expect(await second.heartbeat().shard == 0)
        let owners = f.events().filter { $0.event == "role_changed" && $0.fields["role"] == "owner" }.map { "\($0.node) epoch \($0.fields["epoch"] ?? "?")" }
        #expect(owners == ["wacore1 epoch \(assigned.epoch)", "wacore2 epoch \(moved.epoch)"])
    }
}
