import Foundation
import Testing
import WACore
import WATestKit
import WAWire

/// Messages accepted with 201 reach the gateway exactly once, also when their shard's owner
/// dies or freezes mid-stream, and their statuses reach the webhook at least once.
@Suite(.serialized) struct MessagingTests {
    enum Fault { case kill, pause }

    func twoShardCluster(_ c: LocalCluster, webhook: WebhookReceiver, backoffMs: Int = 3000) async throws {
        try await c.login()
        try await c.patchSettings(.object(["webhooks": .object(["url": .string(webhook.url)]),
                                            "callback_backoff_delay_ms": .number(Double(backoffMs))]))
        try await c.register()
        try await c.setShards(2)
        try await c.waitForHealth(timeout: 20) { $0.hosts(status: "connected", role: "coreapp").count == 2 }
    }

    func drain(_ c: LocalCluster, timeout: Double) async throws -> JSONValue? {
        await DeliveryAudit.drain(c, timeout: timeout)
    }

    func proveExactlyOnce(_ c: LocalCluster, _ stream: MessageStream, _ webhook: WebhookReceiver) throws {
        let audit = DeliveryAudit.run(cluster: c, acceptedIDs: stream.accepted.map(\.id), webhook: webhook)
        #expect(audit.accepted > 0)
        #expect(audit.missing.isEmpty, "accepted but never reached the gateway: \(audit.missing.prefix(5))")
        #expect(audit.duplicated.isEmpty, "reached the gateway more than once: \(audit.duplicated.prefix(5))")
        #expect(audit.withoutStatus.isEmpty, "no 'sent' status at the webhook for \(audit.withoutStatus.count) message(s), e.g. \(audit.withoutStatus.prefix(3))")
        let conflicts = c.gatewayJournal().filter { $0["event"]?.stringValue == "conflict" }
        #expect(conflicts.isEmpty)
        print("messages: \(audit.accepted) accepted, refused \(stream.refused), errors \(stream.errors); gateway arrivals \(audit.gatewayArrivals), duplicates \(audit.duplicated.count); webhook requests \(webhook.requestCount)")
    }

    func streamThrough(_ fault: Fault) async throws {
        var layout = ClusterLayout()
        layout.masters = 2; layout.coreapps = 3; layout.timeScale = 0.1
        let webhook = WebhookReceiver()
        try await webhook.start()
        defer { Task { await webhook.close() } }
        try await withCluster("messages-\(fault)", layout: layout) { c in
            try await twoShardCluster(c, webhook: webhook)
            let stream = MessageStream()
            let sending = Task { await stream.run(cluster: c, senders: 4, interval: 0.01) }
            try await Task.sleep(for: .seconds(1), clock: .continuous)
            let victim = try #require(owner(of: 0, in: c))
            switch fault {
            case .kill: c.kill(victim)
            case .pause: c.pause(victim)
            }
            try await c.waitForHealth(timeout: 15) { h in h.hosts(status: "connected", role: "coreapp").filter { $0 != victim }.count == 2 }
            try await Task.sleep(for: .seconds(1), clock: .continuous)
            if fault == .pause { c.resume(victim) }
            stream.stop()
            await sending.value
            let db = try await drain(c, timeout: 20)
            #expect(db?["messages_pending"]?.intValue == 0, "\(db?.description ?? "no stats")")
            try proveExactlyOnce(c, stream, webhook)
        }
    }

    @Test func killedOwnerMidStreamLosesAndDuplicatesNothing() async throws { try await streamThrough(.kill) }

    @Test func pausedOwnerMidStreamLosesAndDuplicatesNothing() async throws { try await streamThrough(.pause) }

    @Test func webhookThatFailsFirstStillGetsEveryStatus() async throws {
        var layout = ClusterLayout()
        layout.masters = 1; layout.coreapps = 2; layout.timeScale = 0.1
        let webhook = WebhookReceiver(failFirst: 4)
        try await webhook.start()
        defer { Task { await webhook.close() } }
        try await withCluster("messages-webhook-retry", layout: layout) { c in
            try await twoShardCluster(c, webhook: webhook, backoffMs: 500)
            let stream = MessageStream()
            let sending = Task { await stream.run(cluster: c, senders: 2, interval: 0.02) }
            try await Task.sleep(for: .seconds(1), clock: .continuous)
            stream.stop()
            await sending.value
            let db = try await drain(c, timeout: 20)
            #expect(db?["callbacks_pending"]?.intValue == 0)
            #expect(webhook.requestCount > 4, "the receiver refused the first 4 deliveries; they were retried")
            try proveExactlyOnce(c, stream, webhook)
            // The callbacks that failed carry their attempts in the coreapp logs.
            let failures = c.allEvents().filter { $0.event == "webhook_failed" }
            #expect(failures.count >= 1)
        }
    }

    @Test func inboundMessagesReachTheWebhookOnce() async throws {
        var layout = ClusterLayout()
        layout.masters = 1; layout.coreapps = 2; layout.timeScale = 0.1
        let webhook = WebhookReceiver()
        try await webhook.start()
        defer { Task { await webhook.close() } }
        try await withCluster("messages-inbound", layout: layout) { c in
            try await twoShardCluster(c, webhook: webhook)
            var ids: [String] = []
            for i in 0..<6 {
                var f = GatewayFrame(.admin)
                f.op = "inject_inbound"; f.cc = LocalCluster.cc; f.phoneNumber = LocalCluster.phoneNumber
                f.from = "1444555000\(i)"; f.body = "hello \(i)"
                let r = try await GatewayAdmin.request(f, gateway: c.gatewayAddress, secret: c.clusterSecret, group: c.group, timeout: 5)
                #expect(r.ok == true, "\(r.reason ?? "")")
                if let id = r.id { ids.append(id) }
            }
            _ = try await drain(c, timeout: 10)
            #expect(Set(webhook.inboundIDs) == Set(ids))
            // A read receipt, when the user reads: the gateway reports "read" and it reaches the webhook.
            let sent = try await c.api("POST", "/v1/messages", body: .object(["to": .string("16315550000"), "type": .string("text"),
                                                                              "text": .object(["body": .string("read me")])]))
            let id = try #require(sent.json?["messages"].flatMap { if case .array(let a) = $0 { a.first?["id"]?.stringValue } else { nil } })
            // Read at once, usually before "delivered" went out: delivery must still be reported first.
            var read = GatewayFrame(.admin); read.op = "mark_read"; read.id = id
            var r = try await GatewayAdmin.request(read, gateway: c.gatewayAddress, secret: c.clusterSecret, group: c.group, timeout: 5)
            for _ in 0..<100 where r.ok != true {
                try await Polling.pause(seconds: 0.01)
                r = try await GatewayAdmin.request(read, gateway: c.gatewayAddress, secret: c.clusterSecret, group: c.group, timeout: 5)
            }
            #expect(r.ok == true, "\(r.reason ?? "")")
            // The database shows nothing pending once "sent" is stored; "delivered" and "read" wait
            // in the owner's memory until its next callback pass, so the webhook itself is watched.
            for _ in 0..<200 where webhook.statuses[id] != ["sent", "delivered", "read"] { try await Polling.pause(seconds: 0.05) }
            _ = try await drain(c, timeout: 10)
            #expect(webhook.statuses[id] == ["sent", "delivered", "read"])
            let stats = try await c.api("GET", "/v1/stats/db").json?["stats"]?["db"]
            #expect(stats?["inbound_messages"]?.intValue == ids.count)
        }
    }
}
