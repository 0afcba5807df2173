import NIOCore

/// Makes the flushes of one event-loop turn one flush: whatever the channel is asked to write in
/// that turn leaves in one `write` system call. A flush per frame cost a system call for each
/// acknowledgement, status and RPC line (the message benchmark's profile: the kernel's send path
/// was a tenth of a coreapp's and of the gateway's CPU), and the peer a wake-up and a read for
/// each. The flush still happens in the same turn, behind the writes queued before it, so no
/// frame waits for a timer. Put it first in the pipeline, so every handler's flush passes it.
public final class FlushCoalescingHandler: ChannelOutboundHandler, RemovableChannelHandler {
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
            guard handler.flushQueued else { return }  // a close flushed already
            handler.flushQueued = false
            context.flush()
        }
    }

    /// What was written before a close goes out before it: a refusal frame, then the close.
    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if flushQueued {
            flushQueued = false
            context.flush()
        }
        context.close(mode: mode, promise: promise)
    }
}
