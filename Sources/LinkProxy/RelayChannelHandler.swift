import NIOCore

/// Sits on one socket of a proxied connection. It hands what it reads to the outgoing relay and,
/// with autoRead off, asks for the next read only when that relay can take more: this is where
/// backpressure from the far side reaches the near socket.
final class RelayChannelHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    /// Carries bytes read from this socket to the other one.
    private let outgoing: DirectionalRelay
    /// Carries bytes from the other socket into this one.
    private let incoming: DirectionalRelay
    private var context: ChannelHandlerContext?
    /// A read is owed to the socket: the previous one finished and the next has not been asked for.
    private var readOwed = false

    init(outgoing: DirectionalRelay, incoming: DirectionalRelay) {
        self.outgoing = outgoing
        self.incoming = incoming
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    /// Issues the first read once both sockets are wired up.
    func startReading() {
        readOwed = true
        resumeReading()
    }

    /// Asks the socket for more data if a read is owed and the outgoing relay has room.
    func resumeReading() {
        guard readOwed, let context, outgoing.canTakeMore else { return }
        readOwed = false
        context.read()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        outgoing.receive(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        readOwed = true
        resumeReading()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        incoming.destinationWritabilityChanged()
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .some(.inputClosed) = event as? ChannelEvent {
            outgoing.sourceEnded(.halfClose)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        outgoing.sourceEnded(.fullClose)
        incoming.destinationClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A reset or broken pipe on one socket ends this side; channelInactive tells the relays.
        context.close(promise: nil)
    }
}
