import Foundation
import NIOCore
import NIOFoundationCompat
import NIOPosix
import WACore

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
                let result = try await handler(params)
                return RPCCodec.line(["id": idValue, "result": try RPCCodec.encode(result)])
            } catch let e as APIError {
                return RPCRoutes.errorLine(id, e)
            } catch {
                return RPCRoutes.errorLine(id, APIError(.internalError, "\(M.name) failed: \(error)", status: 500))
            }
        }
    }

    static func errorLine(_ id: UInt64, _ e: APIError) -> Data {
        RPCCodec.line(["id": .number(Double(id)), "error": .object(["code": .number(Double(e.code)), "title": .string(e.title),
                                                                    "details": .string(e.details), "http_status": .number(Double(e.httpStatus))])])
    }

    func dispatch(_ line: Data) async -> Data? {
        guard let request = try? JSONValue.parse(line), let idNumber = request["id"]?.intValue, idNumber >= 0,
              let method = request["method"]?.stringValue else { return nil }
        let id = UInt64(idNumber)
        guard let route = routes[method] else {
            return Self.errorLine(id, APIError(.notFound, "unknown RPC method \(method)", status: 404))
        }
        return await route(id, request["params"] ?? .null)
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
            guard let answer = await routes.dispatch(line) else { channel.close(promise: nil); return }
            channel.writeAndFlush(ByteBuffer(data: answer), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}
