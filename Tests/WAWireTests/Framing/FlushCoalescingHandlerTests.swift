import NIOCore
import NIOEmbedded
import Testing
@testable import WAWire

/// Flushes asked for in one event-loop turn leave as one.
@Suite("Flush coalescing")
struct FlushCoalescingHandlerTests {
    /// Counts the flushes that reach the socket's side of the pipeline.
    final class FlushCounter: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        var flushes = 0
        func flush(context: ChannelHandlerContext) { flushes += 1; context.flush() }
    }

    /// A channel with the coalescer first and a counter of the flushes that pass it.
    func coalescingChannel() throws -> (EmbeddedChannel, FlushCounter) {
        let channel = EmbeddedChannel()
        let counter = FlushCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(FlushCoalescingHandler())
        return (channel, counter)
    }

    @Test func theFlushesOfOneTurnAreOneAndNothingIsLeftUnflushed() throws {
        let (channel, counter) = try coalescingChannel()
        for line in ["a\n", "b\n", "c\n"] { channel.writeAndFlush(ByteBuffer(string: line), promise: nil) }
        #expect(counter.flushes == 0, "the flush waits for the end of the turn")
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)

        channel.embeddedEventLoop.run()
        #expect(counter.flushes == 1)
        var out: [String] = []
        while let b = try channel.readOutbound(as: ByteBuffer.self) { out.append(String(buffer: b)) }
        #expect(out == ["a\n", "b\n", "c\n"], "every write, in order")

        // The next turn's writes get a flush of their own.
        channel.writeAndFlush(ByteBuffer(string: "d\n"), promise: nil)
        channel.embeddedEventLoop.run()
        #expect(counter.flushes == 2)
        let last = try channel.readOutbound(as: ByteBuffer.self)
        #expect(last.map { String(buffer: $0) } == "d\n")
        _ = try channel.finish()
    }

    /// Found by the gateway's rule tests: a refusal written just before a close was dropped
    /// with the close, because its flush was still waiting for the end of the turn.
    @Test func whatWasWrittenBeforeACloseLeavesBeforeIt() throws {
        let (channel, counter) = try coalescingChannel()
        channel.writeAndFlush(ByteBuffer(string: "refused\n"), promise: nil)
        let last = try channel.readOutbound(as: ByteBuffer.self)
        #expect(last == nil)
        channel.close(promise: nil)
        #expect(counter.flushes == 1)
        let refusal = try channel.readOutbound(as: ByteBuffer.self)
        #expect(refusal.map { String(buffer: $0) } == "refused\n")
        channel.embeddedEventLoop.run()
        #expect(counter.flushes == 1, "no second flush after the close")
    }

    /// NIO closes a channel whose peer sent its last frame and a FIN in one read without passing
    /// the pipeline's close, right after the read's end: the replies go out at the read's end.
    @Test func theRepliesToAReadLeaveAtItsEnd() throws {
        let (channel, counter) = try coalescingChannel()
        channel.writeAndFlush(ByteBuffer(string: "ack\n"), promise: nil)
        #expect(counter.flushes == 0)
        channel.pipeline.fireChannelReadComplete()
        #expect(counter.flushes == 1, "flushed at the end of the read, before anything after it")
        let reply = try channel.readOutbound(as: ByteBuffer.self)
        #expect(reply.map { String(buffer: $0) } == "ack\n")
        channel.embeddedEventLoop.run()
        #expect(counter.flushes == 1)
        _ = try channel.finish()
    }
}
