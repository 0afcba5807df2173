import Foundation
import WACore
import NIOCore
import NIOPosix
import Testing
import WACore
@testable import WAWire

/// Node RPC's authentication and resource bounds, against an in-process server on loopback.
@Suite(.serialized) struct RPCServerBoundsTests {
    static let group = MultiThreadedEventLoopGroup.singleton
    let secret = try! ClusterSecret("rpc-test-secret-0123456789")

    enum Slow: RPCMethod {
        struct Params: Codable, Sendable { var n: Int }
        struct Result: Codable, Sendable { var n: Int }
        static let name = "slow"
    }

    /// Counts handlers running at once; each waits until released.
    final class Gate: Sendable {
        let running = Locked(0)
        let peak = Locked(0)
        let total = Locked(0)
        let open = Locked(false)
        func enter() { running.withLock { $0 += 1; let r = $0; peak.withLock { $0 = max($0, r) } } }
        func leave() { running.withLock { $0 -= 1 }; total.withLock { $0 += 1 } }
    }

    func server(_ gate: Gate? = nil, limits: RPCServerLimits = .nodeRPC) async throws -> RPCServer {
        var routes = RPCRoutes()
        routes.on(Slow.self) { p in
            gate?.enter()
            while gate.map({ !$0.open.withLock { $0 } }) ?? false { try await Task.sleep(nanoseconds: 2_000_000) }
            gate?.leave()
            return Slow.Result(n: p.n)
        }
        return try await RPCServer.bind(host: "127.0.0.1", port: 0, routes: routes, keyring: ClusterKeyring(secret), limits: limits, group: Self.group)
            .servingInBackground()
    }

    /// A raw TCP client that collects every line it is sent.
    final class RawClient: Sendable {
        let channel: Channel
        let lines = Locked<[String]>([])
        init(port: Int, autoRead: Bool = true) async throws {
            let lines = lines
            channel = try await ClientBootstrap(group: RPCServerBoundsTests.group)
                .channelOption(ChannelOptions.autoRead, value: autoRead)
                .channelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture {
                        try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maximumLength: 1 << 24)))
                        try ch.pipeline.syncOperations.addHandler(Collector(lines: lines))
                    }
                }
                .connect(host: "127.0.0.1", port: port).get()
        }
        func send(_ text: String) async throws { try await channel.writeAndFlush(ByteBuffer(string: text)).get() }
        func waitForLines(_ n: Int, seconds: Double = 5) async throws -> [String] {
            let end = Date().addingTimeInterval(seconds)
            while lines.withLock({ $0.count }) < n, Date() < end { try await Task.sleep(nanoseconds: 10_000_000) }
            return lines.withLock { $0 }
        }
        func waitClosed(seconds: Double = 5) async -> Bool {
            let end = Date().addingTimeInterval(seconds)
            while channel.isActive, Date() < end { try? await Task.sleep(nanoseconds: 10_000_000) }
            return !channel.isActive
        }
        final class Collector: ChannelInboundHandler {
            typealias InboundIn = ByteBuffer
            let lines: Locked<[String]>
            init(lines: Locked<[String]>) { self.lines = lines }
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                var b = unwrapInboundIn(data)
                let s = b.readString(length: b.readableBytes) ?? ""
                lines.withLock { $0.append(s) }
            }
        }
        /// Answers the challenge with `secret`'s proof.
        func authenticate(_ secret: ClusterSecret) async throws {
            let first = try await waitForLines(1)
            let challenge = try #require(try JSONValue.parse(Data(first[0].utf8))["challenge"]?.stringValue)
            let nonce = ClusterSecret.challenge()
            try await send(#"{"auth":"\#(secret.proof(.rpcClient, challenge: challenge, nonce: nonce))","nonce":"\#(nonce)"}"# + "\n")
        }
    }

    @Test func aCallWithoutTheSecretGetsAnErrorAndAClosedConnection() async throws {
        let s = try await server()
        defer { Task { await s.close() } }
        let raw = try await RawClient(port: s.port)
        _ = try await raw.waitForLines(1)
        try await raw.send(#"{"id":1,"method":"slow","params":{"n":1}}"# + "\n")
        let lines = try await raw.waitForLines(2)
        #expect(lines.count == 2 && lines[1].contains("1005") && lines[1].contains("authentication"), "\(lines)")
        #expect(await raw.waitClosed())
    }

    @Test func aWrongSecretIsRefusedAndTheRightOneServed() async throws {
        let s = try await server()
        defer { Task { await s.close() } }
        let wrong = RPCClient(peer: HostPort(host: "127.0.0.1", port: s.port), keyring: ClusterKeyring(try ClusterSecret("another-secret-0123456789")), group: Self.group)
        await #expect(throws: RPCError.self) { _ = try await wrong.call(Slow.self, .init(n: 1), timeout: 3) }
        let right = RPCClient(peer: HostPort(host: "127.0.0.1", port: s.port), keyring: ClusterKeyring(secret), group: Self.group)
        #expect(try await right.call(Slow.self, .init(n: 7), timeout: 3).n == 7)
        // A client that has no secret yet does not even dial.
        let none = RPCClient(peer: HostPort(host: "127.0.0.1", port: s.port), keyring: ClusterKeyring(), group: Self.group)
        await #expect(throws: RPCError.self) { _ = try await none.call(Slow.self, .init(n: 1), timeout: 1) }
    }

    /// A peer that accepts and never sends its challenge (what a partition looks like) costs the
    /// caller its deadline, and the half-open connection is hung up on then, not kept.
    @Test func aClientHangsUpOnASilentPeerAtTheDeadline() async throws {
        final class Silent: ChannelInboundHandler {
            typealias InboundIn = ByteBuffer
            let closed: Locked<Int>
            init(closed: Locked<Int>) { self.closed = closed }
            func channelInactive(context: ChannelHandlerContext) { closed.withLock { $0 += 1 } }
        }
        let closed = Locked(0)
        let silent = try await ServerBootstrap(group: Self.group)
            .childChannelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(Silent(closed: closed)) } }
            .bind(host: "127.0.0.1", port: 0).get()
        defer { silent.close(promise: nil) }
        let c = RPCClient(peer: HostPort(host: "127.0.0.1", port: silent.localAddress!.port!), keyring: ClusterKeyring(secret), group: Self.group)
        for _ in 0..<3 {
            do { _ = try await c.call(Slow.self, .init(n: 1), timeout: 0.2); Issue.record("a silent peer answered") }
            catch let e as RPCError { #expect(e.kind == .unreachable, "\(e)") }
        }
        try await Task.sleep(nanoseconds: 300_000_000)
        #expect(closed.withLock { $0 } == 3, "every half-open connection was closed at its deadline")
    }

    @Test func aSilentConnectionIsClosedAfterTheAuthTimeout() async throws {
        var limits = RPCServerLimits.nodeRPC
        limits.authTimeout = 0.3
        let s = try await server(limits: limits)
        defer { Task { await s.close() } }
        let raw = try await RawClient(port: s.port)
        #expect(await raw.waitClosed(seconds: 3))
        #expect(try await raw.waitForLines(2).last?.contains("no authentication within") == true)
    }

    @Test func anOverlongLineIsRefusedWithoutBuffering() async throws {
        let s = try await server()
        defer { Task { await s.close() } }
        let raw = try await RawClient(port: s.port)
        try await raw.authenticate(secret)
        _ = try await raw.waitForLines(2)
        // An unterminated line past the 64 KiB limit: refused and closed, not kept growing.
        try? await raw.send(String(repeating: "x", count: WireLimits.nodeRPCRequestBytes + 10))
        #expect(await raw.waitClosed())
        #expect(try await raw.waitForLines(3).last?.contains("longer than") == true)
    }

    /// 5,000 requests pipelined on one connection whose handlers all block: no more than the
    /// in-flight bound run at once (the rest wait in the socket), and every one is answered
    /// once the handlers are released.
    @Test func requestsInFlightPerConnectionAreBounded() async throws {
        let gate = Gate()
        var limits = RPCServerLimits.nodeRPC
        limits.maxInFlightPerConnection = 16
        let s = try await server(gate, limits: limits)
        defer { Task { await s.close() } }
        let raw = try await RawClient(port: s.port)
        try await raw.authenticate(secret)
        _ = try await raw.waitForLines(2)
        let n = 5_000
        var flood = ""
        for i in 1...n { flood += #"{"id":\#(i),"method":"slow","params":{"n":\#(i)}}"# + "\n" }
        Task { try? await raw.send(flood) }
        try await Task.sleep(nanoseconds: 500_000_000)
        #expect(gate.peak.withLock { $0 } <= 16)
        #expect(gate.total.withLock { $0 } == 0)
        gate.open.withLock { $0 = true }
        let lines = try await raw.waitForLines(n + 2, seconds: 30)
        #expect(lines.count == n + 2)
        #expect(gate.peak.withLock { $0 } <= 16)
    }

    @Test func connectionsOverTheCapAreToldWhyAndClosed() async throws {
        var limits = RPCServerLimits.nodeRPC
        limits.maxConnections = 3
        let s = try await server(limits: limits)
        defer { Task { await s.close() } }
        var held: [RawClient] = []
        for _ in 0..<3 { held.append(try await RawClient(port: s.port)) }
        for h in held { _ = try await h.waitForLines(1) }
        let extra = try await RawClient(port: s.port)
        let lines = try await extra.waitForLines(1)
        #expect(lines.first?.contains("1015") == true, "\(lines)")
        #expect(await extra.waitClosed())
        #expect(s.openConnections == 3)
        for h in held { h.channel.close(promise: nil) }
        try await Task.sleep(nanoseconds: 200_000_000)
        #expect(s.openConnections == 0)
        let again = RPCClient(peer: HostPort(host: "127.0.0.1", port: s.port), keyring: ClusterKeyring(secret), group: Self.group)
        #expect(try await again.call(Slow.self, .init(n: 2), timeout: 3).n == 2)
    }

    @Test func rpcParametersMeetTheRESTRules() async throws {
        var routes = RPCRoutes()
        routes.on(NodeRPC.SendMessage.self) { _ in .init(id: "accepted") }
        let s = try await RPCServer.bind(host: "127.0.0.1", port: 0, routes: routes, keyring: ClusterKeyring(secret), group: Self.group).servingInBackground()
        defer { Task { await s.close() } }
        let c = RPCClient(peer: HostPort(host: "127.0.0.1", port: s.port), keyring: ClusterKeyring(secret), group: Self.group)
        for (to, body) in [("", "hi"), ("½½½½½", "hi"), ("16505551234", String(repeating: "a", count: 100_000)), ("16505551234", "")] {
            do {
                _ = try await c.call(NodeRPC.SendMessage.self, .init(to: to, body: body, idempotencyKey: nil), timeout: 3)
                Issue.record("send_message to '\(to)' with \(body.count) characters was accepted")
            } catch let e as APIError {
                #expect(e.httpStatus == 400)
            }
        }
        #expect(try await c.call(NodeRPC.SendMessage.self, .init(to: "16505551234", body: "hi", idempotencyKey: "admin/k1"), timeout: 3).id == "accepted")
    }
}

extension RPCServer {
    /// Serves in the background until `close()` (a test's server outlives the call that made it).
    func servingInBackground() -> RPCServer {
        Task { await self.run() }
        return self
    }
}
