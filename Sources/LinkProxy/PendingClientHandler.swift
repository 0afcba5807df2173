import NIOCore

/// Looks after an accepted client socket until its upstream is wired up.
///
/// The accept initializer runs before the socket is registered (possibly on another event loop),
/// so the proxy's setup starts from `channelActive` here, never earlier. And although autoRead is
/// off, NIO drains a socket on its own when the peer half-closes or resets it; whatever arrives
/// that way before the relays exist is kept here and replayed to them in order, not lost.
final class PendingClientHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    /// What the client sent before the hand-over, and whether its input had already ended.
    struct EarlyInput {
        var chunks: [ByteBuffer] = []
        var ended = false
    }

    private var onActive: (() -> Void)?
    private var early = EarlyInput()
    private var context: ChannelHandlerContext?

    init(onActive: @escaping () -> Void) {
        self.onActive = onActive
    }

    /// Removes this handler and returns what it held; relays take over from here.
    func handOver() -> EarlyInput {
        if let context {
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
        defer { early = EarlyInput() }
        return early
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive {
            activate()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        activate()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        early.chunks.append(unwrapInboundIn(data))
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(.inputClosed) = event as? ChannelEvent {
            early.ended = true
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func activate() {
        guard let onActive else { return }
        self.onActive = nil
        onActive()
    }
}
