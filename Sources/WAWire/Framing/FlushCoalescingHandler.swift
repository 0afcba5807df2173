import NIOCore

/// Makes the flushes of one event-loop turn one flush: whatever the channel is asked to write in
/// that turn leaves in one `write` system call. A flush per frame cost a system call for each
/// acknowledgement, status and RPC line (the message benchmark's profile: the kernel's send path
/// was a tenth of a coreapp's and of the gateway's CPU), and the peer a wake-up and a read for
/// each. The flush still happens in the same turn, behind the writes queued before it, so no
/// frame waits for a timer. Put it first in the pipeline, so every handler's flush passes it.
///
/// What was written before a close leaves before it: a close through the pipeline flushes, and so
/// does the end of a read, which is also where NIO closes a channel whose peer sent its last
/// bytes and a FIN together (that close does not pass through the pipeline).
public final class FlushCoalescingHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private var flushQueued = false

    public init() {}

    public func flush(context: ChannelHandlerContext) {
        guard !flushQueued else { return }
        flushQueued = true
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        context.eventLoop.execute {
            let (handler, context) = bound.value
            handler.flushNow(context)
        }
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        flushNow(context)
        context.close(mode: mode, promise: promise)
    }

    /// The replies written while this read's frames were handled go out before anything that
    /// follows the read, an end-of-file close included.
    public func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        flushNow(context)
    }

    private func flushNow(_ context: ChannelHandlerContext) {
        guard flushQueued else { return }
        flushQueued = false
        context.flush()
    }
}
