import Foundation
import HTTPTypes
import NIOCore
import NIOHTTPTypes
import WACore

/// Bounds what one HTTP connection may hold.
public struct HTTPConnectionLimits: Sendable {
    /// A connection must deliver a complete request within this many real seconds of opening
    /// or of its previous response (idle keep-alive, slowloris headers, a body that never
    /// ends); past it the connection is closed.
    public var requestTimeout: Double
    /// Connections the listener holds at most; the next gets a 503 and is closed.
    public var maxConnections: Int
    public init(requestTimeout: Double = 30, maxConnections: Int = NodeConfig.defaultMaxConnections) {
        self.requestTimeout = requestTimeout; self.maxConnections = maxConnections
    }
}

/// Sits after the HTTP codec: closes a connection that does not complete a request in time,
/// and answers 503 on a connection over the cap. Hummingbird's own idle timeout only notices
/// silence, so a client trickling a byte at a time would hold a connection forever.
/// Not Sendable: Hummingbird makes one per connection in its channel initializer and adds it
/// with the pipeline's synchronous operations, so it lives on that channel's event loop.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    let limits: HTTPConnectionLimits
    let counter: AdmissionCounter
    var counted = false
    var refusing = false
    var timer: Scheduled<Void>?

    init(limits: HTTPConnectionLimits, counter: AdmissionCounter) { self.limits = limits; self.counter = counter }

    func handlerAdded(context: ChannelHandlerContext) {
        if counter.tryAcquire() {
            counted = true
            arm(context, seconds: limits.requestTimeout)
        } else {
            // Over the cap: answer the first request with a 503, and give a silent client 2 s.
            refusing = true
            arm(context, seconds: min(2, limits.requestTimeout))
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        if counted { counted = false; counter.release() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        if counted { counted = false; counter.release() }
        context.fireChannelInactive()
    }

    private func arm(_ context: ChannelHandlerContext, seconds: Double) {
        timer?.cancel()
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(seconds * 1e9))) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if refusing {
            if case .head = part {
                let body = ByteBuffer(string: #"{"errors":[{"code":1015,"title":"Too many requests","details":"the webapp already holds \#(limits.maxConnections) connections; retry later"}]}"#)
                var head = HTTPResponse(status: .serviceUnavailable)
                head.headerFields[.contentType] = "application/json"
                head.headerFields[.contentLength] = "\(body.readableBytes)"
                head.headerFields[.connection] = "close"
                head.headerFields[.retryAfter] = "1"
                context.write(wrapOutboundOut(.head(head)), promise: nil)
                context.write(wrapOutboundOut(.body(body)), promise: nil)
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            }
            return
        }
        if case .end = part { timer?.cancel(); timer = nil }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if !refusing, case .end = unwrapOutboundIn(data) { arm(context, seconds: limits.requestTimeout) }
        context.write(data, promise: promise)
    }
}
