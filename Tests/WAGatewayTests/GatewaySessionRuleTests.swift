import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
import WACore
@testable import WAGateway
import WAWire

/// A gateway on one event-loop thread (so every connection shares a loop, the case that
/// deadlocked), with a registered number, and clients on another group.
final class GatewayRig: Sendable {
    let serverGroup: MultiThreadedEventLoopGroup
    let clientGroup = MultiThreadedEventLoopGroup.singleton
    let directory: String
    let server: GatewayServer
    let secret: ClusterSecret
    var address: HostPort { HostPort(host: "127.0.0.1", port: server.port) }
    let cc = "1", number = "6505550101"
    var phone: String { cc + number }

    private init(serverGroup: MultiThreadedEventLoopGroup, directory: String, server: GatewayServer, secret: ClusterSecret) {
        self.serverGroup = serverGroup; self.directory = directory; self.server = server; self.secret = secret
    }

    static func start(maxConnections: Int = WireLimits.rpcConnectionsPerListener) async throws -> GatewayRig {
        let serverGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-\(UUID().uuidString)").path
        let secret = try ClusterSecret(ClusterSecret.generateText())
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let clock = ScaledSystemClock(scale: .realTime)
        let journal = GatewayJournal(sink: try LineSink.file(atPath: directory + "/gateway.jsonl"), clock: clock)
        let state = GatewayState(clock: clock, timings: .standard, journal: journal, logger: Logger(label: "test"),
                                 stateFile: nil, seed: 7)
        let server = try await GatewayServer.start(host: "127.0.0.1", port: 0, state: state, adminSecret: secret,
                                                   maxConnections: maxConnections, group: serverGroup)
        let rig = GatewayRig(serverGroup: serverGroup, directory: directory, server: server, secret: secret)
        try await rig.register()
        return rig
    }

    func admin(_ op: String, _ edit: (inout GatewayFrame) -> Void = { _ in }) async throws -> GatewayFrame {
        var f = GatewayFrame(.admin)
        f.op = op; f.cc = cc; f.phoneNumber = number
        edit(&f)
        return try await GatewayAdmin.request(f, gateway: address, secret: secret, group: clientGroup, timeout: 3)
    }

    func register() async throws {
        let cert = SimulatedCert(cc: cc, phoneNumber: number, vname: "Rig").base64
        _ = try await admin("request_code") { $0.cert = cert }
        let code = try await admin("get_code").code
        let verified = try await admin("verify_code") { $0.code = code }
        precondition(verified.ok == true, "registration failed: \(verified.reason ?? "")")
    }

    /// Opens a session connection and sends `hello`; returns the connection and the first answer.
    func hello(node: String, shard: Int) async throws -> (LineConnection, GatewayFrame?) {
        let conn = try await LineConnection.connect(to: address, group: clientGroup, timeout: 3)
        var hello = GatewayFrame(.hello)
        hello.phone = phone; hello.shard = shard; hello.node = node; hello.epoch = 1
        conn.send(hello.encodedLine())
        return (conn, try await firstFrame(conn, within: 3))
    }

    func stop() async {
        await server.close()
        try? await serverGroup.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// The first frame of a connection other than a ping, or nil when none comes in time.
func firstFrame(_ conn: LineConnection, within seconds: Double) async throws -> GatewayFrame? {
    try await withThrowingTaskGroup(of: GatewayFrame?.self) { group in
        group.addTask {
            for await line in conn.lines {
                if let f = GatewayFrame.decode(line), f.type != .ping { return f }
            }
            return nil
        }
        group.addTask { try await Task.sleep(for: .seconds(seconds)); return nil }
        let first = try await group.next() ?? nil
        group.cancelAll()
        return first
    }
}

@Suite("Gateway session rules")
struct GatewaySessionRuleTests {
    /// The old gateway closed the replaced channel while holding its lock; the close ran the
    /// channel's handler inline on the shared event loop, which took the same lock: the loop hung
    /// and every later connection waited forever.
    @Test("a second hello from the same node replaces the first and the gateway keeps serving")
    func reconnectOfTheSameNodeDoesNotHang() async throws {
        let rig = try await GatewayRig.start()
        let (first, welcome1) = try await rig.hello(node: "wacore1:abc", shard: 0)
        #expect(welcome1?.type == .welcome)
        let (second, welcome2) = try await rig.hello(node: "wacore1:abc", shard: 0)
        #expect(welcome2?.type == .welcome, "the second hello got \(String(describing: welcome2))")
        // The first connection is closed by the gateway: its line stream finishes.
        #expect(try await firstFrame(first, within: 3) == nil)
        // The gateway still answers new requests (before the fix its event loop hung here);
        // only then is its state inspected, as a hung loop holds the state's lock.
        let count = try await rig.admin("message_count") { $0.id = "none" }
        #expect(count.ok == true)
        #expect(rig.server.state.liveSessions().count == 1)
        second.close()
        await rig.stop()
    }

    @Test("a conflicting hello from another node drops both, bans the shard, and the gateway keeps serving")
    func conflictDoesNotHang() async throws {
        let rig = try await GatewayRig.start()
        let (first, w1) = try await rig.hello(node: "wacore1:abc", shard: 0)
        #expect(w1?.type == .welcome)
        let (_, refused) = try await rig.hello(node: "wacore2:def", shard: 0)
        #expect(refused?.type == .refused)
        #expect(refused?.reason?.contains("conflict") == true)
        #expect(try await firstFrame(first, within: 3) == nil)
        let (_, banned) = try await rig.hello(node: "wacore1:abc", shard: 0)
        #expect(banned?.reason?.contains("banned") == true)
        // Another shard is unaffected.
        let (other, w3) = try await rig.hello(node: "wacore3:123", shard: 1)
        #expect(w3?.type == .welcome)
        other.close()
        await rig.stop()
    }

    @Test("many hellos racing for one shard on one event loop never hang it")
    func helloStorm() async throws {
        let rig = try await GatewayRig.start()
        var conns: [LineConnection] = []
        for _ in 0..<8 {
            let (c, w) = try await rig.hello(node: "wacore1:abc", shard: 0)
            #expect(w?.type == .welcome)
            conns.append(c)
        }
        let answer = try await rig.admin("message_count") { $0.id = "x" }
        #expect(answer.ok == true)
        #expect(rig.server.state.liveSessions().count == 1)
        for c in conns { c.close() }
        await rig.stop()
    }
}
