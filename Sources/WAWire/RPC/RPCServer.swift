import Foundation
import NIOCore
import NIOFoundationCompat
import NIOPosix
import WACore

/// The routes a node answers on its RPC port.
public struct RPCRoutes: Sendable {
    typealias Route = @Sendable (UInt64, Data) async -> Data
    var routes: [String: Route] = [:]
    public init() {}

    /// Registers a typed handler. Thrown `APIError`s travel to the caller as such.
    public mutating func on<M: RPCMethod>(_ method: M.Type, _ handler: @escaping @Sendable (M.Params) async throws -> M.Result) {
        routes[M.name] = { id, data in
            let enc = JSONEncoder()
            do {
                let env = try JSONDecoder().decode(RequestEnvelope<M.Params>.self, from: data)
                let result = try await handler(env.params)
                return try enc.encode(ResponseEnvelope(id: id, result: result, error: nil))
            } catch let e as APIError {
                return (try? enc.encode(ResponseEnvelope<Empty>(id: id, result: nil, error: e))) ?? Data()
            } catch is DecodingError {
                let e = APIError(.invalidRequest, "malformed parameters for \(M.name)", status: 400)
                return (try? enc.encode(ResponseEnvelope<Empty>(id: id, result: nil, error: e))) ?? Data()
            } catch {
                let e = APIError(.internalError, "\(M.name) failed: \(error)", status: 500)
                return (try? enc.encode(ResponseEnvelope<Empty>(id: id, result: nil, error: e))) ?? Data()
            }
        }
    }

    func dispatch(_ line: Data) async -> Data? {
        guard let header = try? JSONDecoder().decode(RequestHeader.self, from: line) else { return nil }
        guard let route = routes[header.method] else {
            let e = APIError(.notFound, "unknown RPC method \(header.method)", status: 404)
            return try? JSONEncoder().encode(ResponseEnvelope<Empty>(id: header.id, result: nil, error: e))
        }
        return await route(header.id, line)
    }
}

/// Serves node RPC: newline-delimited JSON requests, answered concurrently and out of order
/// (each answer carries its request id).
public final class RPCServer: @unchecked Sendable {
    public let channel: Channel
    public var port: Int { channel.localAddress?.port ?? 0 }

    private init(channel: Channel) { self.channel = channel }

    /// Binds now (so a port in use fails at start) and serves until `close`.
    public static func bind(host: String, port: Int, routes: RPCRoutes, group: EventLoopGroup,
                            variable: String = "port") async throws -> RPCServer {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder()))
                    try ch.pipeline.syncOperations.addHandler(RPCServerHandler(routes: routes))
                }
            }
        do {
            return RPCServer(channel: try await bootstrap.bind(host: host, port: port).get())
        } catch let e as IOError where e.errnoCode == EADDRINUSE {
            throw ConfigError(.portInUse, variable: variable, detail: "port \(port) is already in use; choose another port or stop the process using it")
        }
    }

    public func close() async { try? await channel.close() }
    public func waitUntilClosed() async { try? await channel.closeFuture.get() }
}

final class RPCServerHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let routes: RPCRoutes
    init(routes: RPCRoutes) { self.routes = routes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buf = unwrapInboundIn(data)
        let line = buf.readData(length: buf.readableBytes) ?? Data()
        let channel = context.channel
        let routes = routes
        Task {
            guard var answer = await routes.dispatch(line) else { channel.close(promise: nil); return }
            answer.append(0x0A)
            channel.writeAndFlush(ByteBuffer(data: answer), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}
