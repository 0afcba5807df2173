import Foundation
import Testing
import WAChaos
import WACore
import WATestKit

/// Starts a cluster in a fresh run folder and always tears it down.
func withCluster<T>(_ name: String, layout: ClusterLayout, _ body: (LocalCluster) async throws -> T) async throws -> T {
    try await withCluster(name, layout: layout, proxied: false) { cluster, _ in try await body(cluster) }
}

/// The same with every link of the cluster through the chaos runner's proxies (`LinkMesh`), so
/// a test can cut or slow them; the mesh is nil unless `proxied`.
func withCluster<T>(_ name: String, layout: ClusterLayout, proxied: Bool, _ body: (LocalCluster, LinkMesh?) async throws -> T) async throws -> T {
    let dir = NSTemporaryDirectory() + "wacluster-tests/\(name)-\(UUID().uuidString.prefix(8))"
    let cluster = try LocalCluster(layout: layout, runDirectory: dir)
    let mesh = proxied ? LinkMesh(cluster: cluster, seed: 1) : nil
    do {
        try await mesh?.start()
        try await cluster.startAll()
        let result = try await body(cluster, mesh)
        await mesh?.stop()
        await cluster.shutdown()
        try? FileManager.default.removeItem(atPath: dir)
        return result
    } catch {
        await mesh?.stop()
        await cluster.shutdown()
        print("cluster run folder kept for inspection: \(dir)")
        throw error
    }
}

/// The SPEC §10 heartbeat window in logical seconds, with slack for a loaded 2-core machine
/// given in real seconds (converted at the cluster's scale).
func heartbeatWindow(h: Double, u: Double, promotion p: Double, scale: Double, realSlack: Double) -> ClosedRange<Double> {
    let slack = realSlack / scale
    return max(0, u - h - slack)...(u + h + p + slack)
}

/// The first event of a kind at or after an instant.
func firstEvent(_ events: [NodeEvent], _ name: String, after ts: Double, where match: (NodeEvent) -> Bool = { _ in true }) -> NodeEvent? {
    events.filter { $0.event == name && $0.ts >= ts && match($0) }.min { $0.ts < $1.ts }
}

func now() -> Double { Date().timeIntervalSince1970 }

/// Which coreapp owns a shard right now, from its latest role event.
func owner(of shard: Int, in cluster: LocalCluster) -> String? {
    var latest: [String: NodeEvent] = [:]
    for name in cluster.layout.coreappNames {
        if let e = cluster.events(name).last(where: { $0.event == "role_changed" }) { latest[name] = e }
    }
    return latest.filter { $0.value.fields["role"] == "owner" && $0.value.fields["shard"] == "\(shard)" }.keys.sorted().first
}
