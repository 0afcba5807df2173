import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOPosix
import WACore
import WAWire

/// The simulated WhatsApp server's listener.
public final class GatewayServer: Sendable {
    public let state: GatewayState
    public let channel: Channel
    public var port: Int { channel.localAddress?.port ?? 0 }

    private init(state: GatewayState, channel: Channel) { self.state = state; self.channel = channel }

    public static func start(host: String, port: Int, state: GatewayState, adminSecret: ClusterSecret,
                             maxConnections: Int = WireLimits.rpcConnectionsPerListener, group: EventLoopGroup) async throws -> GatewayServer {
        let open = AdmissionCounter(limit: maxConnections)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { ch in
                guard open.tryAcquire() else {
                    var r = GatewayFrame(.refused); r.reason = "the WhatsApp server already holds \(maxConnections) connections; retry later"
                    return ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(RefuseConnectionHandler(line: r.encodedLine())) }
                }
                ch.closeFuture.whenComplete { _ in open.release() }
                return ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(FlushCoalescingHandler())
                    try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maximumLength: WireLimits.gatewayFrameBytes)))
                    try ch.pipeline.syncOperations.addHandler(GatewayConnectionHandler(state: state, adminSecret: adminSecret))
                }
            }
        do {
            return GatewayServer(state: state, channel: try await bootstrap.bind(host: host, port: port).get())
        } catch let e as IOError where e.errnoCode == EADDRINUSE {
            throw ConfigError(.portInUse, variable: "--port", detail: "port \(port) is already in use; choose another port for the gateway")
        }
    }

    public func close() async { try? await channel.close() }
}

/// One client connection: either a session (hello, pings, messages) or one admin request.
/// Not Sendable: it lives on its channel's event loop (the ping task reaches it through a
/// `NIOLoopBound`).
final class GatewayConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    enum Mode { case fresh, session(id: Int, node: String, shard: Int), admin }

    let state: GatewayState
    let adminSecret: ClusterSecret
    var adminChallenge: String?
    var mode = Mode.fresh
    var pingTask: RepeatedTask?
    var missedPings = 0
    var pingSeq = 0
    var closeReason: String?

    init(state: GatewayState, adminSecret: ClusterSecret) { self.state = state; self.adminSecret = adminSecret }

    private func send(_ context: ChannelHandlerContext, _ frame: GatewayFrame) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(data: frame.encodedLine())), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buf = unwrapInboundIn(data)
        guard let line = buf.readData(length: buf.readableBytes),
              let frame = GatewayFrame.decode(line) else {
            var bad = GatewayFrame(.refused); bad.reason = "malformed frame"
            send(context, bad)
            closeReason = "malformed frame"
            context.close(promise: nil)
            return
        }
        switch (mode, frame.type) {
        case (.fresh, .hello):
            guard let phone = frame.phone, let shard = frame.shard, let node = frame.node else {
                var r = GatewayFrame(.refused); r.reason = "hello needs phone, shard and node"
                send(context, r); context.close(promise: nil); return
            }
            switch state.hello(node: node, phone: phone, shard: shard, epoch: frame.epoch ?? 0, shards: frame.shards ?? 1, channel: context.channel) {
            case .welcome(let id):
                mode = .session(id: id, node: node, shard: shard)
                var w = GatewayFrame(.welcome); w.shard = shard
                send(context, w)
                startPings(context)
            case .refused(let reason):
                var r = GatewayFrame(.refused); r.reason = reason
                send(context, r)
                context.close(promise: nil)
            }
        case (.fresh, .challenge):
            let challenge = ClusterSecret.challenge()
            adminChallenge = challenge
            var c = GatewayFrame(.challenge); c.nonce = challenge
            send(context, c)
        case (.fresh, .admin):
            mode = .admin
            guard let challenge = adminChallenge, let nonce = frame.nonce, let auth = frame.auth,
                  adminSecret.accepts(auth, .gatewayAdmin, challenge: challenge, nonce: nonce) else {
                var r = GatewayFrame(.adminResult); r.ok = false
                r.reason = "admin requests must prove the cluster secret (\(ClusterSecret.variable)): ask for a challenge first and send its HMAC as auth"
                state.journal.record("admin_refused", ["op": frame.op ?? ""])
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(data: r.encodedLine()))).whenComplete { _ in channel.close(promise: nil) }
                return
            }
            let answer = state.admin(frame)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(data: answer.encodedLine()))).whenComplete { _ in channel.close(promise: nil) }
        case (.session, .pong):
            if frame.seq == pingSeq { missedPings = 0 }
        case (.session(let id, let node, let shard), .message):
            guard let msgID = frame.id else { return }
            // The WhatsApp server refuses a message it can never deliver, for that message alone.
            let problem: String? = {
                guard let kind = MessageKind(rawValue: frame.kind ?? "text") else { return "kind must be text, template or hsm, got \(frame.kind ?? "")" }
                do {
                    _ = try RequestRules.recipient(frame.to ?? "", field: "to")
                    if kind == .text { try RequestRules.textBody(frame.body ?? "", field: "body") } else { try RequestRules.content(frame.body ?? "", kind: kind) }
                    return nil
                } catch { return (error as? APIError)?.details ?? "\(error)" }
            }()
            if let problem {
                var nack = GatewayFrame(.ack); nack.id = msgID; nack.status = "failed"; nack.reason = problem
                send(context, nack)
                state.journal.record("message_refused", ["id": msgID, "session": id, "reason": problem])
                return
            }
            let count = state.message(id: msgID, to: frame.to ?? "", node: node, shard: shard, sessionID: id)
            let channel = context.channel
            let loop = context.eventLoop
            let scale = state.clock.scale
            let sendAck: @Sendable () -> Void = { [state] in
                guard channel.isActive else { return }
                var ack = GatewayFrame(.ack); ack.id = msgID; ack.status = "sent"
                channel.writeAndFlush(ByteBuffer(data: ack.encodedLine()), promise: nil)
                state.journal.record("ack", ["id": msgID, "status": "sent", "session": id, "count": count])
            }
            switch state.ackPlan(shard: shard) {
            case .now: sendAck()
            case .after(let logical): loop.scheduleTask(in: Self.amount(scale.real(logical))) { sendAck() }
            case .drop:
                // Nothing acknowledged, so nothing delivered either: the node must find out by `sync`.
                state.journal.record("ack_dropped", ["id": msgID, "session": id])
                return
            }
            let delay = Self.amount(scale.real(0.2 + state.statusDelay))
            loop.scheduleTask(in: delay) { [state] in
                guard channel.isActive, state.markDelivered(msgID) else { return }
                var st = GatewayFrame(.status); st.id = msgID; st.status = "delivered"
                channel.writeAndFlush(ByteBuffer(data: st.encodedLine()), promise: nil)
                state.journal.record("status", ["id": msgID, "status": "delivered", "session": id])
            }
        case (.session, .sync):
            var answer = GatewayFrame(.syncResult)
            answer.ids = state.known(frame.ids ?? [])
            answer.seq = frame.seq
            send(context, answer)
        case (.session, .bye):
            closeReason = "client said bye: \(frame.reason ?? "")"
            context.close(promise: nil)
        default:
            break
        }
    }

    static func amount(_ realSeconds: Double) -> TimeAmount { .nanoseconds(Int64(max(0, realSeconds) * 1e9)) }

    private func startPings(_ context: ChannelHandlerContext) {
        let period = TimeAmount.nanoseconds(Int64(state.clock.scale.real(state.timings.gatewayPingPeriod) * 1e9))
        let maxMissed = state.timings.gatewayMissedPings
        let channel = context.channel
        // The task runs on this loop; `channelInactive` cancels it, which lets go of the handler.
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        pingTask = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            let h = handler.value
            if h.missedPings >= maxMissed {
                h.closeReason = "ping_timeout: \(maxMissed) pings missed"
                if case .session(let id, let node, let shard) = h.mode {
                    h.state.journal.record("ping_timeout", ["session": id, "node": node, "shard": shard])
                }
                h.pingTask?.cancel()
                channel.close(promise: nil)
                return
            }
            h.missedPings += 1
            h.pingSeq += 1
            var p = GatewayFrame(.ping); p.seq = h.pingSeq
            channel.writeAndFlush(ByteBuffer(data: p.encodedLine()), promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        pingTask?.cancel()
        if case .session(let id, _, _) = mode { state.closed(sessionID: id, reason: closeReason ?? "connection closed by the node") }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        closeReason = closeReason ?? "error: \(error)"
        context.close(promise: nil)
    }
}
