import Foundation
import Testing
import WACore
import WATestKit

@Suite(.serialized) struct FailoverPathTests {
    /// Registers, waits for the owner, and names the owner of shard 0 and the other coreapp.
    func registeredHA(_ c: LocalCluster) async throws -> (owner: String, standby: String) {
        try await c.login()
        try await c.register()
        try await c.waitForHealth(timeout: 20) { $0.hosts(status: "connected", role: "coreapp").count == 1 }
        let victim = try #require(owner(of: 0, in: c))
        return (victim, victim == "wacore1" ? "wacore2" : "wacore1")
    }

    /// One master: only DB-based monitoring. The window lies in [120 − 60, 120 + check + p].
    @Test func dbBasedFailoverWithOneMaster() async throws {
        let scale = 0.04
        var layout = ClusterLayout()
        layout.masters = 1; layout.coreapps = 2; layout.timeScale = scale
        try await withCluster("db-failover", layout: layout) { c in
            let (victim, standby) = try await registeredHA(c)
            let t0 = now()
            c.kill(victim)
            try await c.waitForHealth(timeout: 20, poll: 0.05) { $0[standby]?.status == "connected" }
            let events = c.allEvents()
            let detected = try #require(firstEvent(events, "coreapp_unhealthy", after: t0) { $0.fields["hostname"] == victim })
            let recovered = try #require(firstEvent(events, "gateway_connected", after: t0) { $0.node == standby })
            let timings = ClusterTimings.standard
            let slack = 1.0 / scale
            let window = (timings.dbUnhealthyAfter - timings.dbHeartbeatPeriod - slack)...(timings.dbUnhealthyAfter + timings.dbCheckPeriod + 5 + slack)
            let detection = (detected.ts - t0) / scale, recovery = (recovered.ts - t0) / scale
            print(String(format: "DB failover: detection %.2fs real (%.1f logical), recovery %.2fs real (%.1f logical); window %.0f...%.0f logical",
                         detected.ts - t0, detection, recovered.ts - t0, recovery, window.lowerBound, window.upperBound))
            #expect(detected.fields["path"] == "db")
            #expect(window.contains(detection))
            #expect(window.contains(recovery))
        }
    }

    /// SIGSTOP the owner past unhealthy_interval, SIGCONT it: no conflict at the gateway, and
    /// the old owner comes back as a disconnected standby without ever reconnecting.
    @Test func pausedOwnerIsFencedAndReturnsAsStandby() async throws {
        let scale = 0.1
        var layout = ClusterLayout()
        layout.masters = 2; layout.coreapps = 2; layout.timeScale = scale
        try await withCluster("fencing", layout: layout) { c in
            let (victim, standby) = try await registeredHA(c)
            let t0 = now()
            c.pause(victim)
            try await c.waitForHealth(timeout: 15) { $0[standby]?.status == "connected" }
            // Stay paused well past unhealthy_interval, then resume.
            try await Task.sleep(for: .seconds(1.0), clock: .continuous)
            let resumedAt = now()
            c.resume(victim)
            try await c.waitForHealth(timeout: 10) { h in h[victim]?.status == "disconnected" && h[standby]?.status == "connected" }
            try await Task.sleep(for: .seconds(1.0), clock: .continuous)
            let journal = c.gatewayJournal()
            let conflicts = journal.filter { $0["event"]?.stringValue == "conflict" }
            #expect(conflicts.isEmpty, "no conflict at the gateway")
            let victimKey = "\(victim):\(c.nodeID(victim) ?? "")"
            let reconnects = journal.filter {
                $0["event"]?.stringValue == "connect" && $0["node"]?.stringValue == victimKey && ($0["ts"].flatMap { if case .number(let n) = $0 { n } else { nil } } ?? 0) > t0
            }
            #expect(reconnects.isEmpty, "a replaced owner never reconnects")
            let demoted = c.events(victim).contains { $0.event == "role_changed" && $0.fields["role"] == "standby" && $0.ts >= resumedAt }
            #expect(demoted, "the old owner logs its return to standby")
            let h = try await c.health()
            #expect(h[victim]?.status == "disconnected")
        }
    }
}
