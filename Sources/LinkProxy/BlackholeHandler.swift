import NIOCore

/// Serves a client accepted while the link is fully partitioned: the client believes it is
/// connected, but the upstream is never dialled and everything the client sends is swallowed.
/// Such a connection stays silent after heal; the peers' timeouts are expected to replace it.
final class BlackholeHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let counters: CounterStore

    init(counters: CounterStore) {
        self.counters = counters
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive {
            context.read()
        }
    }

    func channelActive(context: ChannelHandlerContext) {
        context.read()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        counters.addDropped(unwrapInboundIn(data).readableBytes, .forward)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.read()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
