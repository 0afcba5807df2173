import Foundation
import Testing
import WACore
@testable import WAGateway
import WAWire

@Suite("Gateway bounds and admin authentication")
struct GatewayBoundsTests {
    @Test func adminRequestsWithoutTheSecretAreRefused() async throws {
        let rig = try await GatewayRig.start()
        var f = GatewayFrame(.admin)
        f.op = "message_count"; f.id = "none"
        let wrong = try await GatewayAdmin.request(f, gateway: rig.address, secret: try ClusterSecret("wrong-secret-0123456789"), group: rig.clientGroup, timeout: 3)
        #expect(wrong.ok == false && wrong.reason?.contains("cluster secret") == true)
        // An admin frame without a challenge (the old protocol) is refused too.
        let conn = try await LineConnection.connect(to: rig.address, group: rig.clientGroup, timeout: 3)
        conn.send(f.encodedLine())
        let bare = try await firstFrame(conn, within: 3)
        #expect(bare?.type == .adminResult && bare?.ok == false)
        #expect(try await rig.admin("message_count") { $0.id = "none" }.ok == true)
        await rig.stop()
    }

    @Test func aMessageTheServerCanNeverDeliverIsRefusedAloneAndTheSessionStays() async throws {
        let rig = try await GatewayRig.start()
        let (conn, welcome) = try await rig.hello(node: "wacore1:abc", shard: 0)
        #expect(welcome?.type == .welcome)
        var bad = GatewayFrame(.message); bad.id = "m-bad"; bad.to = ""; bad.body = "x"
        conn.send(bad.encodedLine())
        let nack = try await firstFrame(conn, within: 3)
        #expect(nack?.type == .ack && nack?.status == "failed" && nack?.id == "m-bad", "\(String(describing: nack))")
        var good = GatewayFrame(.message); good.id = "m-good"; good.to = "16315550001"; good.body = "hello"
        conn.send(good.encodedLine())
        let ack = try await firstFrame(conn, within: 3)
        #expect(ack?.type == .ack && ack?.status == "sent" && ack?.id == "m-good")
        #expect(rig.server.state.liveSessions().count == 1)
        conn.close()
        await rig.stop()
    }

    @Test func connectionsOverTheCapAreRefused() async throws {
        let rig = try await GatewayRig.start(maxConnections: 3)
        var held: [LineConnection] = []
        for _ in 0..<3 { held.append(try await LineConnection.connect(to: rig.address, group: rig.clientGroup, timeout: 3)) }
        try await Task.sleep(for: .milliseconds(100))
        let extra = try await LineConnection.connect(to: rig.address, group: rig.clientGroup, timeout: 3)
        let refused = try await firstFrame(extra, within: 3)
        #expect(refused?.type == .refused && refused?.reason?.contains("connections") == true, "\(String(describing: refused))")
        for h in held { h.close() }
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await rig.admin("message_count") { $0.id = "none" }.ok == true)
        await rig.stop()
    }
}
