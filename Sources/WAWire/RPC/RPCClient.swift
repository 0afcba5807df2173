import Foundation
import NIOCore
import NIOFoundationCompat
import NIOPosix
import WACore

/// Calls one peer's RPC over a single multiplexed connection, opened on first use and again
/// after it breaks. Every call has a deadline, so a hung link (a partition) costs a timeout,
/// never a hang.
public final class RPCClient: Sendable {
    public let peer: HostPort
    private let addressBook: PeerAddressBook
    private let group: EventLoopGroup
    private let keyring: ClusterKeyring
    private struct State {
        var channel: Channel?
        var connecting: EventLoopFuture<Channel>?
        var pending: [UInt64: EventLoopPromise<JSONValue>] = [:]
        var nextID: UInt64 = 0
    }
    private let state = Locked(State())

    public init(peer: HostPort, addressBook: PeerAddressBook = .direct, keyring: ClusterKeyring, group: EventLoopGroup) {
        self.peer = peer; self.addressBook = addressBook; self.keyring = keyring; self.group = group
    }

    /// Calls `method`; `timeout` is in real seconds and covers connecting too.
    public func call<M: RPCMethod>(_ method: M.Type, _ params: M.Params, timeout: Double) async throws -> M.Result {
        let deadline = NIODeadline.now() + .nanoseconds(Int64(max(timeout, 0.001) * 1e9))
        let ch = try await connection(deadline: deadline)
        let (id, promise) = state.withLock { s -> (UInt64, EventLoopPromise<JSONValue>) in
            s.nextID += 1
            let p = ch.eventLoop.makePromise(of: JSONValue.self)
            s.pending[s.nextID] = p
            return (s.nextID, p)
        }
        let body = RPCCodec.line(["id": .number(Double(id)), "method": .string(M.name), "params": try RPCCodec.encode(params)])
        let timer = ch.eventLoop.scheduleTask(deadline: deadline) { [weak self] in
            self?.fail(id, RPCError(kind: .timeout, peer: self?.peer.description ?? "?", detail: "\(M.name) got no answer within \(String(format: "%.2f", timeout))s"))
            // A silent connection may be dead without a FIN (a partition ate it): dial anew next time.
            self?.drop(ch)
        }
        ch.writeAndFlush(ByteBuffer(data: body)).whenFailure { [weak self] err in
            self?.fail(id, RPCError(kind: .closed, peer: self?.peer.description ?? "?", detail: "write failed: \(err)"))
        }
        let answer: JSONValue
        do { answer = try await promise.futureResult.get() } catch { timer.cancel(); throw error }
        timer.cancel()
        if let e = answer["error"], case .object = e {
            throw APIError(code: e["code"]?.intValue ?? 1014, title: e["title"]?.stringValue ?? "", details: e["details"]?.stringValue ?? "",
                           httpStatus: e["http_status"]?.intValue ?? 500)
        }
        guard let result = answer["result"] else { throw RPCError(kind: .malformed, peer: peer.description, detail: "\(M.name) answer has no result") }
        do { return try RPCCodec.decode(M.Result.self, result) }
        catch { throw RPCError(kind: .malformed, peer: peer.description, detail: "cannot decode \(M.name) answer: \(error)") }
    }

    /// Drops the connection (after a peer restarts on another address, for example).
    public func reset() {
        let ch = state.withLock { s -> Channel? in let c = s.channel; s.channel = nil; return c }
        ch?.close(promise: nil)
    }

    private func drop(_ ch: Channel) {
        let mine = state.withLock { s -> Bool in
            guard s.channel === ch else { return false }
            s.channel = nil
            return true
        }
        if mine { ch.close(promise: nil) }
    }

    private func fail(_ id: UInt64, _ error: Error) {
        let p = state.withLock { $0.pending.removeValue(forKey: id) }
        p?.fail(error)
    }

    /// An answer line: parsed once here, handed to its caller by id. A line that is not an answer
    /// (not JSON, no id) is dropped: its caller times out.
    private func deliver(_ line: ByteBuffer) {
        let answer: JSONValue? = line.withUnsafeReadableBytes { raw in try? JSONCodec.parse(raw.bindMemory(to: UInt8.self)) }
        guard let answer, let n = answer["id"]?.intValue, n >= 0 else { return }
        let p = state.withLock { $0.pending.removeValue(forKey: UInt64(n)) }
        p?.succeed(answer)
    }

    private func closed(_ ch: Channel) {
        let orphans: [EventLoopPromise<JSONValue>] = state.withLock { s in
            guard s.channel === ch else { return [] }
            s.channel = nil
            let all = Array(s.pending.values)
            s.pending.removeAll()
            return all
        }
        for p in orphans { p.fail(RPCError(kind: .closed, peer: peer.description, detail: "connection closed")) }
    }

    private func connection(deadline: NIODeadline) async throws -> Channel {
        let future: EventLoopFuture<Channel> = try state.withLock { s in
            if let c = s.channel, c.isActive { return c.eventLoop.makeSucceededFuture(c) }
            if let f = s.connecting { return f }
            guard let secret = keyring.current else {
                throw RPCError(kind: .unreachable, peer: peer.description, detail: "this node does not know the cluster secret yet; it cannot call other nodes")
            }
            let target = addressBook.resolve(peer)
            let remaining = deadline - .now()
            let peerName = peer.description
            let f = ClientBootstrap(group: group)
                .connectTimeout(remaining > .zero ? remaining : .milliseconds(1))
                .channelOption(ChannelOptions.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { [weak self] ch in
                    ch.eventLoop.makeCompletedFuture {
                        try ch.pipeline.syncOperations.addHandler(FlushCoalescingHandler())
                        try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder(maximumLength: WireLimits.answerBytes)))
                        try ch.pipeline.syncOperations.addHandler(RPCClientHandler(
                            secret: secret, peer: peerName, deadline: deadline, ready: ch.eventLoop.makePromise(),
                            onLine: { self?.deliver($0) }, onClose: { self?.closed(ch) }))
                    }
                }
                .connect(host: target.host, port: target.port)
                .flatMap { ch in
                    ch.pipeline.handler(type: RPCClientHandler.self).flatMap { $0.ready.futureResult }.map { ch }
                        .flatMapErrorThrowing { error in ch.close(promise: nil); throw error }
                }
            s.connecting = f
            return f
        }
        do {
            let ch = try await future.get()
            state.withLock { s in if s.connecting === future { s.connecting = nil; s.channel = ch } }
            return ch
        } catch let e as RPCError {
            state.withLock { s in if s.connecting === future { s.connecting = nil } }
            throw e
        } catch {
            state.withLock { s in if s.connecting === future { s.connecting = nil } }
            throw RPCError(kind: .unreachable, peer: peer.description, detail: "\(error)")
        }
    }

}

/// The client side of the RPC handshake (see `RPCServer.serve`), then every answer line.
/// Not Sendable: made in the channel initializer and used on the channel's event loop only.
final class RPCClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    enum Phase { case awaitingChallenge, awaitingWelcome(challenge: String, nonce: String), ready }
    let secret: ClusterSecret
    let peer: String
    /// The first caller's deadline: a peer that accepts and then stays silent (a partition) is
    /// hung up on then, so no half-open connection outlives the call that opened it.
    let deadline: NIODeadline
    var handshakeTimer: Scheduled<Void>?
    let ready: EventLoopPromise<Void>
    let onLine: (ByteBuffer) -> Void
    let onClose: () -> Void
    var phase = Phase.awaitingChallenge

    init(secret: ClusterSecret, peer: String, deadline: NIODeadline, ready: EventLoopPromise<Void>,
         onLine: @escaping (ByteBuffer) -> Void, onClose: @escaping () -> Void) {
        self.secret = secret; self.peer = peer; self.deadline = deadline; self.ready = ready; self.onLine = onLine; self.onClose = onClose
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let peer = peer
        handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            guard let self else { return }
            if case .ready = self.phase { return }
            self.fail(context, RPCError(kind: .unreachable, peer: peer, detail: "no connection and handshake within the deadline"))
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let line = unwrapInboundIn(data)
        if case .ready = phase { onLine(line); return }
        let frame: JSONValue? = line.withUnsafeReadableBytes { raw in try? JSONCodec.parse(raw.bindMemory(to: UInt8.self)) }
        if let e = frame?["error"], case .object = e {
            fail(context, RPCError(kind: .refused, peer: peer, detail: e["details"]?.stringValue ?? "refused"))
            return
        }
        switch phase {
        case .awaitingChallenge:
            guard let challenge = frame?["challenge"]?.stringValue else {
                fail(context, RPCError(kind: .malformed, peer: peer, detail: "expected the RPC challenge first; is this a wacluster node RPC port?"))
                return
            }
            let nonce = ClusterSecret.challenge()
            phase = .awaitingWelcome(challenge: challenge, nonce: nonce)
            let auth = RPCCodec.line(["auth": .string(secret.proof(.rpcClient, challenge: challenge, nonce: nonce)), "nonce": .string(nonce)])
            context.writeAndFlush(NIOAny(ByteBuffer(data: auth)), promise: nil)
        case .awaitingWelcome(let challenge, let nonce):
            guard let proof = frame?["welcome"]?.stringValue, secret.accepts(proof, .rpcServer, challenge: challenge, nonce: nonce) else {
                fail(context, RPCError(kind: .refused, peer: peer, detail: "the peer did not prove the cluster secret (\(ClusterSecret.variable))"))
                return
            }
            phase = .ready
            handshakeTimer?.cancel()
            ready.succeed(())
        case .ready:
            break
        }
    }

    private func fail(_ context: ChannelHandlerContext, _ error: RPCError) {
        ready.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        ready.fail(RPCError(kind: .closed, peer: peer, detail: "connection closed during the handshake"))
        onClose()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }

    /// A channel that never became active (the connect failed) ends here, not in channelInactive.
    func handlerRemoved(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        ready.fail(RPCError(kind: .closed, peer: peer, detail: "connection ended before the handshake"))
    }
}

/// Not Sendable: made in the channel initializer and used on the channel's event loop only.
final class ClientLineHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let onLine: (ByteBuffer) -> Void
    let onClose: () -> Void
    init(onLine: @escaping (ByteBuffer) -> Void, onClose: @escaping () -> Void) { self.onLine = onLine; self.onClose = onClose }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { onLine(unwrapInboundIn(data)) }
    func channelInactive(context: ChannelHandlerContext) { onClose(); context.fireChannelInactive() }
    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

/// One client per peer address, shared by a node's loops.
public final class RPCClientPool: Sendable {
    private let clients = Locked<[HostPort: RPCClient]>([:])
    public let addressBook: PeerAddressBook
    public let group: EventLoopGroup
    public let keyring: ClusterKeyring
    public init(addressBook: PeerAddressBook, keyring: ClusterKeyring, group: EventLoopGroup) {
        self.addressBook = addressBook; self.keyring = keyring; self.group = group
    }
    public func client(for peer: HostPort) -> RPCClient {
        clients.withLock { clients in
            if let c = clients[peer] { return c }
            let c = RPCClient(peer: peer, addressBook: addressBook, keyring: keyring, group: group)
            clients[peer] = c
            return c
        }
    }
}
