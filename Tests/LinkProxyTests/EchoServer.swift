import WACore
import NIOCore
import NIOPosix

/// A loopback test server that records what it receives and, unless told otherwise, echoes it.
final class EchoServer: Sendable {
    /// What every accepted connection does with incoming bytes.
    enum Behaviour: Sendable {
        /// Record and send back.
        case echo
        /// Never read at all, so that the sender meets TCP backpressure.
        case stalled
    }

    let received: ByteRecorder
    private let listener: Channel
    private let children: Locked<[Channel]>

    var port: Int { listener.localAddress!.port! }

    /// Accepted connections whose socket is still open on the server side.
    var openConnections: Int { children.withLock { $0.filter(\.isActive).count } }

    private init(listener: Channel, received: ByteRecorder, children: Locked<[Channel]>) {
        self.listener = listener
        self.received = received
        self.children = children
    }

    static func start(_ behaviour: Behaviour = .echo) async throws -> EchoServer {
        let received = ByteRecorder()
        let children = Locked<[Channel]>([])
        var bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                children.withLock { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    if case .echo = behaviour {
                        try channel.pipeline.syncOperations.addHandler(EchoHandler(recorder: received))
                    }
                }
            }
        if case .stalled = behaviour {
            // A small receive window makes "the server stopped reading" bite quickly.
            bootstrap = bootstrap
                .serverChannelOption(.socketOption(.so_rcvbuf), value: 64 * 1024)
                .childChannelOption(.autoRead, value: false)
        }
        let listener = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
        return EchoServer(listener: listener, received: received, children: children)
    }

    func stop() async {
        try? await listener.close()
        for child in children.withLock({ $0 }) {
            try? await child.close()
        }
    }
}

/// Records and echoes every chunk.
private final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let recorder: ByteRecorder

    init(recorder: ByteRecorder) {
        self.recorder = recorder
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let chunk = unwrapInboundIn(data)
        recorder.append(Array(chunk.readableBytesView))
        context.writeAndFlush(wrapOutboundOut(chunk), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
