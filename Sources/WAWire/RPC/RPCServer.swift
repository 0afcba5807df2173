import Foundation
import NIOCore
import NIOFoundationCompat
import NIOPosix
import WACore
import AsyncAlgorithms

/// Parameters that check themselves with `RequestRules` before a handler sees them: the RPC
/// port refuses exactly what the REST API refuses.
public protocol ValidatedParams {
    func validate() throws(APIError)
}

/// The routes a node answers on its RPC port.
public struct RPCRoutes: Sendable {
    typealias Route = @Sendable (UInt64, JSONValue) async -> Data
    var routes: [String: Route] = [:]
    public init() {}

    /// Registers a typed handler. Thrown `APIError`s travel to the caller as such.
    public mutating func on<M: RPCMethod>(_ method: M.Type, _ handler: @escaping @Sendable (M.Params) async throws -> M.Result) {
        routes[M.name] = { id, rawParams in
            let idValue = JSONValue.number(Double(id))
            let params: M.Params
            do { params = try RPCCodec.decode(M.Params.self, rawParams) }
            catch { return RPCRoutes.errorLine(id, APIError(.invalidRequest, "malformed parameters for \(M.name): \(error)", status: 400)) }
            do {
                if let v = params as? ValidatedParams { try v.validate() }
                let result = try await handler(params)
                return RPCCodec.line(["id": idValue, "result": try RPCCodec.encode(result)])
            } catch let e as APIError {
                return RPCRoutes.errorLine(id, e)
            } catch {
                return RPCRoutes.errorLine(id, APIError(.internalError, "\(M.name) failed: \(error)", status: 500))
            }
        }
    }

    static func errorLine(_ id: UInt64?, _ e: APIError) -> Data {
        RPCCodec.line(["id": id.map { .number(Double($0)) } ?? .null,
                       "error": .object(["code": .number(Double(e.code)), "title": .string(e.title),
                                         "details": .string(e.details), "http_status": .number(Double(e.httpStatus))])])
    }

    /// The answer to one request line; nil for a line that is not a request (the connection is
    /// then told so and closed: a peer that sends garbage is broken or hostile).
    func dispatch(_ line: ByteBuffer) async -> Data? {
        let request: JSONValue? = line.withUnsafeReadableBytes { raw in try? JSONCodec.parse(raw.bindMemory(to: UInt8.self)) }
        guard let request, let idNumber = request["id"]?.intValue, idNumber >= 0,
              let method = request["method"]?.stringValue else { return nil }
        let id = UInt64(idNumber)
        guard let route = routes[method] else {
            return Self.errorLine(id, APIError(.notFound, "unknown RPC method \(method)", status: 404))
        }
        return await route(id, request["params"] ?? .null)
    }
}

/// How much one listener lets its peers hold.
public struct RPCServerLimits: Sendable {
    public var maxLineBytes: Int
    public var maxInFlightPerConnection: Int
    public var maxConnections: Int
    public var authTimeout: Double
    public init(maxLineBytes: Int = WireLimits.nodeRPCRequestBytes, maxInFlightPerConnection: Int = WireLimits.rpcInFlightPerConnection,
                maxConnections: Int = WireLimits.rpcConnectionsPerListener, authTimeout: Double = WireLimits.rpcAuthTimeout) {
        self.maxLineBytes = maxLineBytes; self.maxInFlightPerConnection = maxInFlightPerConnection
        self.maxConnections = maxConnections; self.authTimeout = authTimeout
    }
    public static let nodeRPC = RPCServerLimits()
    public static let storeRPC = RPCServerLimits(maxLineBytes: WireLimits.storeRequestBytes)
}

/// Serves node RPC: newline-delimited JSON requests, answered concurrently and out of order
/// (each answer carries its request id). Every connection first proves the cluster secret
/// (challenge, HMAC answer, welcome: see `serve`). Each connection is an `NIOAsyncChannel`
/// served by a child of `run()`: a reader hands request lines to at most
/// `maxInFlightPerConnection` worker tasks through an `AsyncChannel` (a hand-off: it holds no
/// line), so while every worker is busy, or the peer does not read its answers (writes wait for
/// writability), the reader stops; the channel then buffers at most 4 more lines and stops
/// reading the socket, so a flood waits in the peer's socket, not in this node's memory.
/// Workers live as long as their connection: no task per request.
public final class RPCServer: Sendable {
    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>
    private let listener: NIOAsyncChannel<Connection, Never>
    private let routes: RPCRoutes
    private let keyring: ClusterKeyring
    private let limits: RPCServerLimits
    let connections: AdmissionCounter
    public var channel: Channel { listener.channel }
    public var port: Int { listener.channel.localAddress?.port ?? 0 }

    private init(listener: NIOAsyncChannel<Connection, Never>, routes: RPCRoutes, keyring: ClusterKeyring, limits: RPCServerLimits,
                 connections: AdmissionCounter) {
        self.listener = listener; self.routes = routes; self.keyring = keyring; self.limits = limits; self.connections = connections
    }

    /// Connections open now (for tests and benchmarks).
    public var openConnections: Int { connections.count }

    /// Binds now (so a port in use fails at start); `run()` serves.
    public static func bind(host: String, port: Int, routes: RPCRoutes, keyring: ClusterKeyring, limits: RPCServerLimits = .nodeRPC,
                            group: EventLoopGroup, variable: String = "port") async throws -> RPCServer {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 256 << 10, high: 1 << 20))
        do {
            let listener = try await bootstrap.bind(host: host, port: port) { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maximumLength: limits.maxLineBytes)))
                    return try Connection(wrappingChannelSynchronously: ch,
                                          configuration: .init(backPressureStrategy: .init(lowWatermark: 1, highWatermark: 4)))
                }
            }
            return RPCServer(listener: listener, routes: routes, keyring: keyring, limits: limits,
                             connections: AdmissionCounter(limit: limits.maxConnections))
        } catch let e as IOError where e.errnoCode == EADDRINUSE {
            throw ConfigError(.portInUse, variable: variable, detail: "port \(port) is already in use; choose another port or stop the process using it")
        }
    }

    /// Serves every connection, each as a child task, until `close()` (which ends them all) or
    /// until the calling task is cancelled.
    public func run() async {
        try? await listener.executeThenClose { accepted in
            try await withThrowingDiscardingTaskGroup { group in
                for try await connection in accepted {
                    guard connections.tryAcquire() else {
                        group.addTask { await Self.refuse(connection, APIError(.tooManyRequests, "this listener already holds \(self.limits.maxConnections) connections; retry later", status: 429)) }
                        continue
                    }
                    group.addTask {
                        defer { self.connections.release() }
                        await self.serve(connection)
                    }
                }
                // The listener is closed: its connections end with it.
                group.cancelAll()
            }
        }
    }

    /// Runs `body` (a node's life) while this server serves beside it, then closes the server.
    public func serving(_ body: () async throws -> Void) async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await self.run() }
            defer { group.cancelAll() }
            try await body()
            await close()
        }
    }

    public func close() async { try? await listener.channel.close() }
    public func waitUntilClosed() async { try? await listener.channel.closeFuture.get() }

    /// Tells a connection why it is refused, then closes it.
    static func refuse(_ connection: Connection, _ e: APIError) async {
        try? await connection.executeThenClose { _, outbound in try await outbound.write(ByteBuffer(data: RPCRoutes.errorLine(nil, e))) }
    }

    /// One connection: the handshake, then requests until the peer leaves, breaks a rule or the server closes.
    ///
    /// Handshake: the server sends `{"challenge":C}`; the client answers `{"auth":P,"nonce":N}`
    /// with P = HMAC(secret, client|C|N); the server checks P and answers `{"welcome":Q}` with
    /// Q = HMAC(secret, server|C|N), which the client checks in turn. Anything else before that —
    /// or nothing within the auth timeout — gets an error line and a closed connection.
    func serve(_ connection: Connection) async {
        let channel = connection.channel
        try? await connection.executeThenClose { inbound, outbound in
            func refuse(_ e: APIError) async throws { try await outbound.write(ByteBuffer(data: RPCRoutes.errorLine(nil, e))) }
            guard let secret = keyring.current else {
                try await refuse(APIError(.serviceNotReady, "this node does not know the cluster secret yet (it reads it from the database once the schema is ready); retry", status: 503))
                return
            }
            let challenge = ClusterSecret.challenge()
            try await outbound.write(ByteBuffer(data: RPCCodec.line(["challenge": .string(challenge)])))
            let timeout = limits.authTimeout
            let authTimer = channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout * 1e9))) {
                let line = RPCRoutes.errorLine(nil, APIError(.accessDenied, "no authentication within \(timeout)s", status: 401))
                channel.writeAndFlush(ByteBuffer(data: line)).whenComplete { _ in channel.close(promise: nil) }
            }
            defer { authTimer.cancel() }
            var lines = inbound.makeAsyncIterator()
            do {
                guard let hello = try await lines.next() else { return }
                authTimer.cancel()
                guard let proof = Self.proof(in: hello), secret.accepts(proof.auth, .rpcClient, challenge: challenge, nonce: proof.nonce) else {
                    try await refuse(APIError(.accessDenied, Self.proof(in: hello) == nil
                        ? "node RPC needs authentication first: answer the challenge with an HMAC of the cluster secret (\(ClusterSecret.variable))"
                        : "authentication failed: the peer does not know this cluster's secret (\(ClusterSecret.variable))", status: 401))
                    return
                }
                try await outbound.write(ByteBuffer(data: RPCCodec.line(["welcome": .string(secret.proof(.rpcServer, challenge: challenge, nonce: proof.nonce))])))
                try await serveRequests(&lines, outbound: outbound, channel: channel)
            } catch let e as LineFrameDecoder.FrameTooLong {
                try? await refuse(APIError(.invalidRequest, "request line longer than \(e.limit) bytes", status: 413))
            }
        }
    }

    private static func proof(in hello: ByteBuffer) -> (auth: String, nonce: String)? {
        guard hello.readableBytes <= 1024 else { return nil }
        let json: JSONValue? = hello.withUnsafeReadableBytes { raw in try? JSONCodec.parse(raw.bindMemory(to: UInt8.self)) }
        guard let auth = json?["auth"]?.stringValue, let nonce = json?["nonce"]?.stringValue, nonce.utf8.count == 32 else { return nil }
        return (auth, nonce)
    }

    /// The reader: each line goes to an idle worker, a new one while fewer than the limit exist,
    /// else waits until one is free. A line that is not a request ends the connection.
    private func serveRequests(_ lines: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
                               outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, channel: Channel) async throws {
        let work = AsyncChannel<ByteBuffer>()
        let idle = Locked(0)
        // After a line that is not a request, nothing more of this connection is carried out.
        let broken = Locked(false)
        let routes = routes
        try await withThrowingDiscardingTaskGroup { group in
            var workers = 0
            defer { work.finish() }
            while !broken.value, let line = try await lines.next() {
                if idle.value == 0, workers < limits.maxInFlightPerConnection {
                    workers += 1
                    group.addTask {
                        idle.withLock { $0 += 1 }
                        for await request in work {
                            idle.withLock { $0 -= 1 }
                            if broken.value { idle.withLock { $0 += 1 }; continue }
                            if let answer = await routes.dispatch(request) {
                                try await outbound.write(ByteBuffer(data: answer))
                            } else {
                                let line = RPCRoutes.errorLine(nil, APIError(.invalidRequest, "not an RPC request: expected one JSON object per line with id and method", status: 400))
                                broken.withLock { $0 = true }
                                try? await outbound.write(ByteBuffer(data: line))
                                channel.close(promise: nil)
                            }
                            idle.withLock { $0 += 1 }
                        }
                    }
                }
                await work.send(line)
            }
        }
    }
}

/// Tells a connection over a listener's cap why, then closes it (the gateway's listener).
public final class RefuseConnectionHandler: ChannelInboundHandler, Sendable {
    public typealias InboundIn = ByteBuffer
    let line: Data
    public init(line: Data) { self.line = line }
    public func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        context.writeAndFlush(NIOAny(ByteBuffer(data: line))).whenComplete { _ in channel.close(promise: nil) }
    }
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
