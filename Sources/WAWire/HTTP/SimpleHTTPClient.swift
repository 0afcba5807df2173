import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix
import WACore

/// An HTTP answer, body kept whole.
public struct HTTPResult: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: Data
    public var json: JSONValue? { try? JSONValue.parse(body) }
    public var text: String { String(decoding: body, as: UTF8.self) }
    public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
}

/// A small HTTP/1.1 client (one connection per request) for tests, the chaos runner's probes
/// and webhook delivery. Every request has a deadline.
public enum SimpleHTTPClient {
    public static func request(_ method: String, _ target: HostPort, path: String, headers: [String: String] = [:],
                               body: Data? = nil, group: EventLoopGroup, timeout: Double = 10) async throws -> HTTPResult {
        let promise = group.next().makePromise(of: HTTPResult.self)
        let deadline = NIODeadline.now() + .nanoseconds(Int64(timeout * 1e9))
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.nanoseconds(Int64(timeout * 1e9)))
                .channelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture {
                        try ch.pipeline.syncOperations.addHTTPClientHandlers()
                        try ch.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                    }
                }
                .connect(host: target.host, port: target.port).get()
        } catch {
            promise.fail(error)
            throw RPCError(kind: .unreachable, peer: target.description, detail: "\(error)")
        }
        let timer = channel.eventLoop.scheduleTask(deadline: deadline) {
            promise.fail(RPCError(kind: .timeout, peer: target.description, detail: "\(method) \(path) got no answer within \(timeout)s"))
            channel.close(promise: nil)
        }
        var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: method), uri: path)
        head.headers.add(name: "Host", value: target.description)
        head.headers.add(name: "Connection", value: "close")
        for (k, v) in headers { head.headers.add(name: k, value: v) }
        if let body { head.headers.add(name: "Content-Length", value: "\(body.count)") }
        else if ["POST", "PUT", "PATCH"].contains(method) { head.headers.add(name: "Content-Length", value: "0") }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(data: body))), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        defer { timer.cancel(); channel.close(promise: nil) }
        return try await promise.futureResult.get()
    }

    /// Convenience for JSON APIs.
    public static func json(_ method: String, _ target: HostPort, path: String, token: String? = nil,
                            authorization: String? = nil, body: JSONValue? = nil, extraHeaders: [String: String] = [:],
                            group: EventLoopGroup, timeout: Double = 10) async throws -> HTTPResult {
        var headers = extraHeaders
        headers["Content-Type"] = "application/json"
        if let token { headers["Authorization"] = "Bearer \(token)" }
        if let authorization { headers["Authorization"] = authorization }
        let data = try body.map { try JSONCodec.encodedData($0) }
        return try await request(method, target, path: path, headers: headers, body: data, group: group, timeout: timeout)
    }
}

/// Not Sendable: made and used on its channel's event loop.
final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    let promise: EventLoopPromise<HTTPResult>
    var result = HTTPResult(status: 0, headers: [], body: Data())
    init(promise: EventLoopPromise<HTTPResult>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            result.status = Int(h.status.code)
            result.headers = h.headers.map { ($0.name, $0.value) }
        case .body(var b):
            if let d = b.readData(length: b.readableBytes) { result.body.append(d) }
        case .end:
            promise.succeed(result)
            context.close(promise: nil)
        }
    }
    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(RPCError(kind: .closed, peer: "http", detail: "connection closed before the answer ended"))
    }
    func errorCaught(context: ChannelHandlerContext, error: Error) { promise.fail(error); context.close(promise: nil) }
}
