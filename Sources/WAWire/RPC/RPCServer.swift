import Foundation
import NIOCore
import NIOFoundationCompat
import NIOPosix
import WACore

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
/// (see `RPCServerHandler`); a connection's requests run at most `maxInFlightPerConnection` at
/// once, and while that many are running, or the peer is not reading its answers, the server
/// stops reading from it, so a flood waits in the peer's socket, not in this node's memory.
public final class RPCServer: @unchecked Sendable {
    public let channel: Channel
    public var port: Int { channel.localAddress?.port ?? 0 }
    let connections: AdmissionCounter

    private init(channel: Channel, connections: AdmissionCounter) { self.channel = channel; self.connections = connections }

    /// Connections open now (for tests and benchmarks).
    public var openConnections: Int { connections.count }

    /// Binds now (so a port in use fails at start) and serves until `close`.
    public static func bind(host: String, port: Int, routes: RPCRoutes, keyring: ClusterKeyring, limits: RPCServerLimits = .nodeRPC,
                            group: EventLoopGroup, variable: String = "port") async throws -> RPCServer {
        let counter = AdmissionCounter(limit: limits.maxConnections)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 256 << 10, high: 1 << 20))
            .childChannelInitializer { ch in
                guard counter.tryAcquire() else {
                    return ch.eventLoop.makeCompletedFuture {
                        try ch.pipeline.syncOperations.addHandler(RefuseConnectionHandler(
                            line: RPCRoutes.errorLine(nil, APIError(.tooManyRequests, "this listener already holds \(limits.maxConnections) connections; retry later", status: 429))))
                    }
                }
                ch.closeFuture.whenComplete { _ in counter.release() }
                return ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maximumLength: limits.maxLineBytes)))
                    try ch.pipeline.syncOperations.addHandler(RPCServerHandler(routes: routes, keyring: keyring, limits: limits))
                }
            }
        do {
            return RPCServer(channel: try await bootstrap.bind(host: host, port: port).get(), connections: counter)
        } catch let e as IOError where e.errnoCode == EADDRINUSE {
            throw ConfigError(.portInUse, variable: variable, detail: "port \(port) is already in use; choose another port or stop the process using it")
        }
    }

    public func close() async { try? await channel.close() }
    public func waitUntilClosed() async { try? await channel.closeFuture.get() }
}

/// Tells a connection over the cap why, then closes it.
public final class RefuseConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    public typealias InboundIn = ByteBuffer
    let line: Data
    public init(line: Data) { self.line = line }
    public func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(ByteBuffer(data: line))).whenComplete { _ in context.close(promise: nil) }
    }
    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

/// One RPC connection, server side.
///
/// Handshake: the server sends `{"challenge":C}`; the client answers `{"auth":P,"nonce":N}`
/// with P = HMAC(secret, client|C|N); the server checks P and answers `{"welcome":Q}` with
/// Q = HMAC(secret, server|C|N), which the client checks in turn. Anything else before that —
/// or nothing within the auth timeout — gets an error line and a closed connection.
final class RPCServerHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase { case awaitingAuth(challenge: String), serving, closing }

    let routes: RPCRoutes
    let keyring: ClusterKeyring
    let limits: RPCServerLimits
    var phase = Phase.closing
    var inFlight = 0
    var queued = CircularBuffer<ByteBuffer>()
    var readHeld = false
    var authTimer: Scheduled<Void>?
    var context: ChannelHandlerContext?

    init(routes: RPCRoutes, keyring: ClusterKeyring, limits: RPCServerLimits) {
        self.routes = routes; self.keyring = keyring; self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil; authTimer?.cancel() }

    func channelActive(context: ChannelHandlerContext) {
        guard keyring.current != nil else {
            refuse(context, APIError(.serviceNotReady, "this node does not know the cluster secret yet (it reads it from the database once the schema is ready); retry", status: 503))
            return
        }
        let challenge = ClusterSecret.challenge()
        phase = .awaitingAuth(challenge: challenge)
        context.writeAndFlush(NIOAny(ByteBuffer(data: RPCCodec.line(["challenge": .string(challenge)]))), promise: nil)
        let timeout = limits.authTimeout
        authTimer = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout * 1e9))) { [weak self] in
            guard let self, let ctx = self.context, case .awaitingAuth = self.phase else { return }
            self.refuse(ctx, APIError(.accessDenied, "no authentication within \(timeout)s", status: 401))
        }
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        switch phase {
        case .closing:
            return
        case .awaitingAuth(let challenge):
            authenticate(context, line, challenge: challenge)
        case .serving:
            if inFlight < limits.maxInFlightPerConnection && context.channel.isWritable { start(line, on: context.eventLoop) }
            else { queued.append(line) }
        }
    }

    private func authenticate(_ context: ChannelHandlerContext, _ line: ByteBuffer, challenge: String) {
        let hello: JSONValue? = line.readableBytes <= 1024
            ? line.withUnsafeReadableBytes { raw in try? JSONCodec.parse(raw.bindMemory(to: UInt8.self)) } : nil
        guard let secret = keyring.current, let proof = hello?["auth"]?.stringValue, let nonce = hello?["nonce"]?.stringValue,
              nonce.utf8.count == 32 else {
            refuse(context, APIError(.accessDenied, "node RPC needs authentication first: answer the challenge with an HMAC of the cluster secret (\(ClusterSecret.variable))", status: 401))
            return
        }
        guard secret.accepts(proof, .rpcClient, challenge: challenge, nonce: nonce) else {
            refuse(context, APIError(.accessDenied, "authentication failed: the peer does not know this cluster's secret (\(ClusterSecret.variable))", status: 401))
            return
        }
        authTimer?.cancel()
        phase = .serving
        context.writeAndFlush(NIOAny(ByteBuffer(data: RPCCodec.line(["welcome": .string(secret.proof(.rpcServer, challenge: challenge, nonce: nonce))]))), promise: nil)
    }

    private func refuse(_ context: ChannelHandlerContext, _ e: APIError) {
        phase = .closing
        queued.removeAll()
        context.writeAndFlush(NIOAny(ByteBuffer(data: RPCRoutes.errorLine(nil, e)))).whenComplete { _ in context.close(promise: nil) }
    }

    private func start(_ line: ByteBuffer, on loop: EventLoop) {
        inFlight += 1
        let routes = routes
        Task {
            let answer = await routes.dispatch(line)
            loop.execute { self.finished(answer) }
        }
    }

    private func finished(_ answer: Data?) {
        inFlight -= 1
        guard let context, case .serving = phase else { return }
        guard let answer else {
            refuse(context, APIError(.invalidRequest, "not an RPC request: expected one JSON object per line with id and method", status: 400))
            return
        }
        context.writeAndFlush(NIOAny(ByteBuffer(data: answer)), promise: nil)
        pump(context)
    }

    /// Starts queued requests while there is room, then reads again if a read was held back.
    private func pump(_ context: ChannelHandlerContext) {
        while inFlight < limits.maxInFlightPerConnection, context.channel.isWritable, let next = queued.popFirst() {
            start(next, on: context.eventLoop)
        }
        if readHeld, queued.isEmpty, inFlight < limits.maxInFlightPerConnection, context.channel.isWritable {
            readHeld = false
            context.read()
        }
    }

    func read(context: ChannelHandlerContext) {
        if !queued.isEmpty || inFlight >= limits.maxInFlightPerConnection || !context.channel.isWritable { readHeld = true; return }
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pump(context) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let e = error as? LineFrameDecoder.FrameTooLong {
            refuse(context, APIError(.invalidRequest, "request line longer than \(e.limit) bytes", status: 413))
        } else {
            context.close(promise: nil)
        }
    }
}
