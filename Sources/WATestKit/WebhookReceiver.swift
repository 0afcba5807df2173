import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import ChaosCheckers
import WACore

/// A webhook endpoint for tests and benchmarks: records every POST body, and answers 500 to
/// the first `failFirst` requests (to prove retries), 200 after that.
public final class WebhookReceiver: Sendable {
    private struct State {
        var bodies: [Data] = []
        var arrivals: [Double] = []
        var requests = 0
        var failuresLeft: Int
        var channel: Channel?
    }
    private let state: Locked<State>

    public var port: Int { state.withLock { $0.channel }?.localAddress?.port ?? 0 }
    public var url: String { "http://\(host):\(port)/webhook" }
    /// The address it listens on: loopback, or the hub's address when the nodes are in namespaces.
    public let host: String

    public init(failFirst: Int = 0, host: String = "127.0.0.1") { state = Locked(State(failuresLeft: failFirst)); self.host = host }

    public func start(group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        let bound = try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.configureHTTPServerPipeline()
                    try ch.pipeline.syncOperations.addHandler(Handler(receiver: self))
                }
            }
            .bind(host: host, port: 0).get()
        state.withLock { $0.channel = bound }
    }

    public func close() async { try? await state.withLock({ $0.channel })?.close() }

    /// Decides the answer for one request and records it.
    func received(_ body: Data) -> HTTPResponseStatus {
        state.withLock { s in
            s.requests += 1
            if s.failuresLeft > 0 { s.failuresLeft -= 1; return .internalServerError }
            s.bodies.append(body)
            s.arrivals.append(Date().timeIntervalSince1970)
            return .ok
        }
    }

    public var requestCount: Int { state.withLock { $0.requests } }

    /// Every accepted POST with when it arrived, for `webhook.jsonl`.
    public var receipts: [WebhookReceipt] {
        state.withLock { s in zip(s.arrivals, s.bodies).map { WebhookReceipt(ts: $0, body: $1) } }
    }

    /// Every accepted POST body as it came.
    public var rawBodies: [String] { state.withLock { $0.bodies.map { String(decoding: $0, as: UTF8.self) } } }

    /// Writes the receipts as JSON lines.
    public func writeReceipts(to path: String) throws {
        var out = Data()
        for r in receipts { out.append(try JSONCodec.encodedData(r)); out.append(0x0A) }
        try out.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Every status seen in accepted deliveries: message id → statuses.
    public var statuses: [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for b in state.withLock({ $0.bodies }) {
            guard let list = (try? JSONCodec.parse(b))?["statuses"]?.arrayValue else { continue }
            for s in list { if let id = s["id"]?.stringValue, let st = s["status"]?.stringValue { out[id, default: []].insert(st) } }
        }
        return out
    }

    /// Inbound message ids seen in accepted deliveries.
    public var inboundIDs: [String] {
        state.withLock { $0.bodies }.flatMap { b -> [String] in
            guard let list = (try? JSONCodec.parse(b))?["messages"]?.arrayValue else { return [] }
            return list.compactMap { $0["id"]?.stringValue }
        }
    }

    /// Not Sendable: made and used on its channel's event loop.
    final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let receiver: WebhookReceiver
        var body = Data()
        init(receiver: WebhookReceiver) { self.receiver = receiver }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head: body = Data()
            case .body(var b): body.append(contentsOf: b.readBytes(length: b.readableBytes) ?? [])
            case .end:
                let status = receiver.received(body)
                var head = HTTPResponseHead(version: .http1_1, status: status)
                head.headers.add(name: "Content-Length", value: "0")
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
