import Foundation
import NIOCore
import NIOFoundationCompat
import NIOPosix
import WACore

/// A client TCP connection that exchanges newline-delimited frames: what coreapps and the
/// primary master use to talk to the gateway.
public final class LineConnection: Sendable {
    public let channel: Channel
    /// Every received line, in order; finishes when the connection closes.
    public let lines: AsyncStream<Data>

    private init(channel: Channel, lines: AsyncStream<Data>) { self.channel = channel; self.lines = lines }

    public static func connect(to peer: HostPort, addressBook: PeerAddressBook = .direct, group: EventLoopGroup,
                               timeout: Double) async throws -> LineConnection {
        let target = addressBook.resolve(peer)
        let (stream, continuation) = AsyncStream<Data>.makeStream()
        do {
            let ch = try await ClientBootstrap(group: group)
                .connectTimeout(.nanoseconds(Int64(max(timeout, 0.001) * 1e9)))
                .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { ch in
                    ch.eventLoop.makeCompletedFuture {
                        try ch.pipeline.syncOperations.addHandler(FlushCoalescingHandler())
                        try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder()))
                        try ch.pipeline.syncOperations.addHandler(ClientLineHandler(
                            onLine: { buf in var b = buf; continuation.yield(b.readData(length: b.readableBytes) ?? Data()) },
                            onClose: { continuation.finish() }))
                    }
                }
                .connect(host: target.host, port: target.port).get()
            return LineConnection(channel: ch, lines: stream)
        } catch {
            continuation.finish()
            throw RPCError(kind: .unreachable, peer: peer.description, detail: "\(error)")
        }
    }

    public func send(_ line: Data) {
        channel.writeAndFlush(ByteBuffer(data: line), promise: nil)
    }

    public func close() { channel.close(promise: nil) }
    public var isActive: Bool { channel.isActive }
}

/// One admin request to the gateway (registration codes, cert checks, faults). The request
/// proves the cluster secret: it asks for a challenge first and sends
/// HMAC(secret, admin|challenge|nonce) with the request.
public enum GatewayAdmin {
    public static func request(_ frame: GatewayFrame, gateway: HostPort, secret: ClusterSecret, addressBook: PeerAddressBook = .direct,
                               group: EventLoopGroup, timeout: Double) async throws -> GatewayFrame {
        let conn = try await LineConnection.connect(to: gateway, addressBook: addressBook, group: group, timeout: timeout)
        defer { conn.close() }
        conn.send(GatewayFrame(.challenge).encodedLine())
        let deadline = NIODeadline.now() + .nanoseconds(Int64(timeout * 1e9))
        let timer = conn.channel.eventLoop.scheduleTask(deadline: deadline) { conn.close() }
        defer { timer.cancel() }
        for await line in conn.lines {
            guard let f = GatewayFrame.decode(line) else { continue }
            if f.type == .challenge, let challenge = f.nonce {
                var request = frame
                let nonce = ClusterSecret.challenge()
                request.nonce = nonce
                request.auth = secret.proof(.gatewayAdmin, challenge: challenge, nonce: nonce)
                conn.send(request.encodedLine())
            } else if f.type == .adminResult {
                return f
            }
        }
        throw RPCError(kind: .timeout, peer: gateway.description, detail: "gateway gave no admin answer within \(timeout)s")
    }
}
