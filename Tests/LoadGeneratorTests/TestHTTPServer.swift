import WACore
import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A tiny keep-alive HTTP/1.1 server on loopback for exercising the load generator. Every request
/// body is echoed back; the body is expected to carry `seq=<n>` (see `TestHTTPServer.body(for:)`),
/// from which the behaviour picks the status, or whether to answer at all.
final class TestHTTPServer: Sendable {
    struct Behaviour: Sendable {
        /// Status of the answer to request `seq` (nil when the body had no sequence number).
        var status: @Sendable (Int?) -> Int = { _ in 201 }
        /// Never answer request `seq` (the connection stalls: the client's timeout must act).
        var silent: @Sendable (Int?) -> Bool = { _ in false }
        /// Close each connection after this many answers.
        var closeEvery: Int?
        /// Say `Connection: close` on the last answer before closing (else close abruptly).
        var announceClose = true
        /// Answer with chunked transfer coding (body in two chunks) instead of Content-Length.
        var chunked = false
        /// Answer each request this long after it was read (answers stay in order). Turns off
        /// NIO's pipelining assistance, so the server sees pipelined requests as they arrive.
        var answerDelay: TimeAmount?
    }

    private let listener: Channel
    private let counters: Counters

    var port: Int { listener.localAddress!.port! }
    /// Requests fully read, answered or not.
    var requestsReceived: Int { counters.requests.load() }
    /// Connections accepted.
    var connectionsAccepted: Int { counters.connections.load() }
    /// Most requests read and not yet answered on one connection at any time (with `answerDelay`).
    var maxInFlight: Int { counters.maxInFlight.load() }

    private init(listener: Channel, counters: Counters) {
        self.listener = listener
        self.counters = counters
    }

    static func start(_ behaviour: Behaviour = Behaviour(), group: EventLoopGroup) async throws -> TestHTTPServer {
        let counters = Counters()
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                counters.connections.add(1)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withPipeliningAssistance: behaviour.answerDelay == nil, withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(
                        AnswerHandler(behaviour: behaviour, counters: counters))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return TestHTTPServer(listener: listener, counters: counters)
    }

    func stop() async {
        try? await listener.close()
    }

    /// A request body carrying sequence number `seq`, shaped like a message send.
    static func body(for seq: Int) -> [UInt8] {
        Array(#"{"to":"1555\#(1_000_000 + seq % 1_000_000)","type":"text","text":{"body":"hello seq=\#(seq)"}}"#.utf8)
    }

    /// The number after `seq=` in `bytes`.
    static func sequence(in bytes: [UInt8]) -> Int? {
        let marker = Array("seq=".utf8)
        guard bytes.count > marker.count else { return nil }
        for start in 0...(bytes.count - marker.count) where Array(bytes[start..<(start + marker.count)]) == marker {
            var value = 0
            var index = start + marker.count
            var digits = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                value = value * 10 + Int(bytes[index] - 48)
                index += 1
                digits += 1
            }
            return digits > 0 ? value : nil
        }
        return nil
    }
}

/// Plain counters behind a lock (the server's connections run on several loops).
final class Counters: Sendable {
    let requests = LockedInt()
    let connections = LockedInt()
    let maxInFlight = LockedInt()
}

/// A counter shared by the server's event loops.
final class LockedInt: Sendable {
    private let value = Locked(0)
    func add(_ delta: Int) { value.withLock { $0 += delta } }
    func raise(to candidate: Int) { value.withLock { $0 = max($0, candidate) } }
    func load() -> Int { value.value }
}

private final class AnswerHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let behaviour: TestHTTPServer.Behaviour
    private let counters: Counters
    private var body: ByteBuffer?
    private var answered = 0
    private var inFlight = 0

    init(behaviour: TestHTTPServer.Behaviour, counters: Counters) {
        self.behaviour = behaviour
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            body = context.channel.allocator.buffer(capacity: 128)
        case .body(var chunk):
            body?.writeBuffer(&chunk)
        case .end:
            let bytes = body.map { Array($0.readableBytesView) } ?? []
            body = nil
            counters.requests.add(1)
            let seq = TestHTTPServer.sequence(in: bytes)
            if behaviour.silent(seq) { return }
            let status = behaviour.status(seq)
            if let delay = behaviour.answerDelay {
                inFlight += 1
                counters.maxInFlight.raise(to: inFlight)
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                context.eventLoop.scheduleTask(in: delay) {
                    let (handler, context) = loopBound.value
                    handler.inFlight -= 1
                    guard context.channel.isActive else { return }
                    handler.answer(context: context, status: status, echo: bytes)
                }
            } else {
                answer(context: context, status: status, echo: bytes)
            }
        }
    }

    private func answer(context: ChannelHandlerContext, status: Int, echo: [UInt8]) {
        answered += 1
        let closing = behaviour.closeEvery.map { answered >= $0 } ?? false
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        if !behaviour.chunked { headers.add(name: "content-length", value: String(echo.count)) }
        if closing && behaviour.announceClose { headers.add(name: "connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if behaviour.chunked {
            let half = echo.count / 2
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: echo[..<half])))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: echo[half...])))), promise: nil)
        } else if !echo.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: echo)))), promise: nil)
        }
        if closing {
            let promise = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
            let channel = context.channel
            promise.futureResult.whenComplete { _ in channel.close(promise: nil) }
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
