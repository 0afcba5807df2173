import Foundation
import Testing
import WACore
import WATestKit

/// Replays the seeds' walkthrough with real processes, time-scaled ×0.1.
@Suite(.serialized) struct WalkthroughTests {
    static let scale = 0.1

    @Test func seedsWalkthroughFromPreRegistrationToMasterFailover() async throws {
        var layout = ClusterLayout()
        layout.masters = 2; layout.coreapps = 2; layout.extraCoreapps = 1; layout.timeScale = Self.scale
        try await withCluster("walkthrough", layout: layout) { c in
            let spawned = now()
            try await c.login()
            // Pre-registration: the primary master says unregistered, every other node 1011.
            let pre = try await c.waitForHealth(timeout: 20) { h in
                h.entries.count == 4 && h.hosts(status: "unregistered", role: "primary_master").count == 1
                    && h.entries.values.filter { $0.errorCode == 1011 }.count == 3
            }
            print("boot: spawn to pre-registration health \(String(format: "%.2f", now() - spawned))s")
            let notInstantiated = pre.entries.values.first { $0.errorCode == 1011 }!
            #expect(notInstantiated.errorDetails == "Wacore is not instantiated. Please check wacore log for details.")

            // Register: exactly one coreapp connected; masters and the other coreapp disconnected.
            try await c.register()
            let ha = try await c.waitForHealth(timeout: 20) { h in
                h.hosts(status: "connected", role: "coreapp").count == 1 && h.hosts(status: "disconnected", role: "coreapp").count == 1
                    && h.hosts(status: "disconnected", role: "primary_master").count == 1
                    && h.hosts(status: "disconnected", role: "secondary_master").count == 1
            }
            #expect(ha.hosts(status: "connected") == ["wacore1"], "lowest hostname is promoted first")

            // Two shards: both coreapps and the primary master connected.
            try await c.setShards(2)
            try await c.waitForHealth(timeout: 20) { h in
                h.hosts(status: "connected", role: "coreapp") == ["wacore1", "wacore2"]
                    && h.hosts(status: "connected", role: "primary_master").count == 1
                    && h.hosts(status: "disconnected", role: "secondary_master").count == 1
            }

            // A third coreapp joins as a disconnected standby.
            try c.start("wacore3")
            try await c.waitForHealth(timeout: 20) { h in h["wacore3"]?.status == "disconnected" && h["wacore3"]?.role == "coreapp" }

            // kill -9 the owner of shard 0; the standby takes it within the heartbeat window,
            // the owner of shard 1 stays connected throughout.
            let victim = try #require(owner(of: 0, in: c))
            let survivor = try #require(owner(of: 1, in: c))
            let t0 = now()
            c.kill(victim)
            var survivorDropped = false
            let after = try await c.waitForHealth(timeout: 15, poll: 0.05) { h in
                if h[survivor]?.status != "connected" { survivorDropped = true }
                return h["wacore3"]?.status == "connected"
            }
            #expect(!survivorDropped, "the other shard's owner must stay connected")
            #expect(after[survivor]?.status == "connected")
            let events = c.allEvents()
            let detected = try #require(firstEvent(events, "coreapp_unhealthy", after: t0) { $0.fields["hostname"] == victim })
            let recovered = try #require(firstEvent(events, "gateway_connected", after: t0) { $0.node == "wacore3" })
            let detection = (detected.ts - t0) / Self.scale, recovery = (recovered.ts - t0) / Self.scale
            let window = heartbeatWindow(h: 5, u: 30, promotion: 5, scale: Self.scale, realSlack: 1.0)
            print(String(format: "heartbeat failover: detection %.2fs real (%.1f logical), recovery %.2fs real (%.1f logical); window %.1f...%.1f logical",
                         detected.ts - t0, detection, recovered.ts - t0, recovery, window.lowerBound, window.upperBound))
            #expect(detected.fields["path"] == "heartbeat")
            #expect(window.contains(detection))
            #expect(window.contains(recovery))

            // Kill the primary master: a secondary takes the lease; coreapps keep serving.
            let primary = try #require(after.hosts(status: "connected", role: "primary_master").first)
            let m0 = now()
            c.kill(primary)
            var coreappsDropped = false
            try await c.waitForHealth(timeout: 15) { h in
                if h.hosts(status: "connected", role: "coreapp").count < 2 { coreappsDropped = true }
                return h.entries.contains { $0.key != primary && $0.value.role == "primary_master" }
            }
            #expect(!coreappsDropped, "coreapps keep serving while the masters change")
            let won = try #require(firstEvent(c.allEvents(), "lease_acquired", after: m0))
            print(String(format: "master failover: new primary %@ after %.2fs real", won.node, won.ts - m0))
            let conflicts = c.gatewayJournal().filter { $0["event"]?.stringValue == "conflict" }
            #expect(conflicts.isEmpty)
        }
    }
}
