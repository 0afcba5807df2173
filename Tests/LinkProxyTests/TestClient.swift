import NIOCore
import NIOPosix

/// A loopback client that collects what it receives and can wait for it with a timeout.
struct TestClient {
    let channel: Channel
    /// The inbox, reachable only on the channel's loop.
    private let inbox: NIOLoopBoundBox<Inbox>

    static func connect(to port: Int) async throws -> TestClient {
        // The loop is picked first so the inbox can be bound to it before the channel exists.
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let inbox = NIOLoopBoundBox.makeBoxSendingValue(Inbox(), eventLoop: loop)
        let channel = try await ClientBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(inbox.value)
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return TestClient(channel: channel, inbox: inbox)
    }

    func send(_ text: String) {
        send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) {
        channel.writeAndFlush(ByteBuffer(bytes: bytes), promise: nil)
    }

    /// The next `count` bytes, or nil if they did not all arrive within `timeout` (or the socket closed).
    func receive(_ count: Int, within timeout: TimeAmount) async throws -> [UInt8]? {
        try await channel.eventLoop.flatSubmit { [inbox] in
            inbox.value.expect(count, within: timeout, on: channel.eventLoop)
        }.get()
    }

    /// Like `receive`, as text.
    func receiveText(_ count: Int, within timeout: TimeAmount) async throws -> String? {
        try await receive(count, within: timeout).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Sends `text` and waits for it to come back; the round-trip time in seconds, or nil.
    func roundTrip(_ text: String, within timeout: TimeAmount) async throws -> Double? {
        let start = ContinuousClock.now
        send(text)
        guard let echoed = try await receiveText(text.utf8.count, within: timeout) else { return nil }
        return echoed == text ? Waiting.seconds(since: start) : nil
    }

    /// Whether the proxy closed (or reset) this connection within `timeout`.
    func closed(within timeout: TimeAmount) async throws -> Bool {
        let loop = channel.eventLoop
        let promise = loop.makePromise(of: Bool.self)
        channel.closeFuture.whenComplete { _ in promise.succeed(true) }
        // Both run on the channel's loop; the timer only answers "still open" if it really is.
        let timer = loop.scheduleTask(in: timeout) { [channel] in
            if channel.isActive { promise.succeed(false) }
        }
        let result = try await promise.futureResult.get()
        timer.cancel()
        return result
    }

    /// The error that ended the connection, if any (a reset shows up as ECONNRESET).
    func closingError() async throws -> Error? {
        try await channel.eventLoop.submit { [inbox] in inbox.value.closingError }.get()
    }

    /// Half-closes: the peer sees end of stream, but this side can still receive.
    func finishSending() async throws {
        try await channel.close(mode: .output)
    }

    func close() async {
        try? await channel.close()
    }
}

/// Collects received bytes; lives on the client's event loop only (not Sendable).
private final class Inbox: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private struct Waiter {
        let id: Int
        let count: Int
        let promise: EventLoopPromise<[UInt8]?>
    }

    private var bytes: [UInt8] = []
    private var waiter: Waiter?
    private var nextID = 0
    private var isClosed = false
    private(set) var closingError: Error?

    func expect(_ count: Int, within timeout: TimeAmount, on loop: EventLoop) -> EventLoopFuture<[UInt8]?> {
        if bytes.count >= count {
            return loop.makeSucceededFuture(take(count))
        }
        if isClosed {
            return loop.makeSucceededFuture(nil)
        }
        nextID += 1
        let waiter = Waiter(id: nextID, count: count, promise: loop.makePromise())
        self.waiter = waiter
        let timer = loop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard self.waiter?.id == waiter.id else { return }
            self.waiter = nil
            waiter.promise.succeed(nil)
        }
        waiter.promise.futureResult.whenComplete { _ in timer.cancel() }
        return waiter.promise.futureResult
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytes += unwrapInboundIn(data).readableBytesView
        if let waiter, bytes.count >= waiter.count {
            self.waiter = nil
            waiter.promise.succeed(take(waiter.count))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosed = true
        if let waiter {
            self.waiter = nil
            waiter.promise.succeed(nil)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A reset from the proxy shows up here first; closing makes it visible as closure.
        closingError = closingError ?? error
        context.close(promise: nil)
    }

    private func take(_ count: Int) -> [UInt8] {
        let taken = Array(bytes.prefix(count))
        bytes.removeFirst(count)
        return taken
    }
}
