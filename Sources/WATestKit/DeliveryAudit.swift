import Foundation
import WACore

/// Proves, from the gateway journal and the webhook receiver, what happened to every message
/// the API accepted: each must have reached the WhatsApp server exactly once, and each must
/// have had at least one status ("sent") delivered to the webhook.
public struct DeliveryAudit: Sendable {
    public var accepted: Int
    public var missing: [String]
    public var duplicated: [String: Int]
    public var withoutStatus: [String]
    public var gatewayArrivals: Int

    public var isClean: Bool { missing.isEmpty && duplicated.isEmpty && withoutStatus.isEmpty }

    public static func run(cluster: LocalCluster, acceptedIDs: [String], webhook: WebhookReceiver) -> DeliveryAudit {
        var arrivals: [String: Int] = [:]
        for e in cluster.gatewayJournal() where e["event"]?.stringValue == "message" {
            if let id = e["id"]?.stringValue { arrivals[id, default: 0] += 1 }
        }
        let statuses = webhook.statuses
        return DeliveryAudit(accepted: acceptedIDs.count,
                             missing: acceptedIDs.filter { arrivals[$0] == nil },
                             duplicated: arrivals.filter { $0.value > 1 },
                             withoutStatus: acceptedIDs.filter { statuses[$0]?.contains("sent") != true },
                             gatewayArrivals: arrivals.count)
    }

    /// Waits until no message and no callback is pending (stats from the API), or the timeout.
    @discardableResult
    public static func drain(_ cluster: LocalCluster, timeout: Double) async -> JSONValue? {
        let deadline = Date().addingTimeInterval(timeout)
        var last: JSONValue?
        while Date() < deadline {
            if let r = try? await cluster.api("GET", "/v1/stats/db"), let db = r.json?["stats"]?["db"] {
                last = db
                if db["messages_pending"]?.intValue == 0, db["callbacks_pending"]?.intValue == 0 { return db }
            }
            try? await Polling.pause(seconds: 0.1)
        }
        return last
    }
}
