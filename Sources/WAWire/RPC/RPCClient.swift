import Foundation
import NIOCore
import NIOFoundationCompat
import NIOPosix
import WACore

/// Calls one peer's RPC over a single multiplexed connection, opened on first use and again
/// after it breaks. Every call has a deadline, so a hung link (a partition) costs a timeout,
/// never a hang.
public final class RPCClient: @unchecked Sendable {
    public let peer: HostPort
    private let addressBook: PeerAddressBook
    private let group: EventLoopGroup
    private let lock = NSLock()
    private var channel: Channel?
    private var connecting: EventLoopFuture<Channel>?
    private var pending: [UInt64: EventLoopPromise<JSONValue>] = [:]
    private var nextID: UInt64 = 0

    public init(peer: HostPort, addressBook: PeerAddressBook = .direct, group: EventLoopGroup) {
        self.peer = peer; self.addressBook = addressBook; self.group = group
    }

    /// Calls `method`; `timeout` is in real seconds and covers connecting too.
    public func call<M: RPCMethod>(_ method: M.Type, _ params: M.Params, timeout: Double) async throws -> M.Result {
        let deadline = NIODeadline.now() + .nanoseconds(Int64(max(timeout, 0.001) * 1e9))
        let ch = try await connection(deadline: deadline)
        let (id, promise) = lock.withLock { () -> (UInt64, EventLoopPromise<JSONValue>) in
            nextID += 1
            let p = ch.eventLoop.makePromise(of: JSONValue.self)
            pending[nextID] = p
            return (nextID, p)
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
        let ch = lock.withLock { () -> Channel? in let c = channel; channel = nil; return c }
        ch?.close(promise: nil)
    }

    private func drop(_ ch: Channel) {
        let mine = lock.withLock { () -> Bool in
            guard channel === ch else { return false }
            channel = nil
            return true
        }
        if mine { ch.close(promise: nil) }
    }

    private func fail(_ id: UInt64, _ error: Error) {
        let p = lock.withLock { pending.removeValue(forKey: id) }
        p?.fail(error)
    }

    /// An answer line: parsed once here, handed to its caller by id. A line that is not an answer
    /// (not JSON, no id) is dropped: its caller times out.
    private func deliver(_ line: ByteBuffer) {
        let answer: JSONValue? = line.withUnsafeReadableBytes { raw in try? JSONCodec.parse(raw.bindMemory(to: UInt8.self)) }
        guard let answer, let n = answer["id"]?.intValue, n >= 0 else { return }
        let p = lock.withLock { pending.removeValue(forKey: UInt64(n)) }
        p?.succeed(answer)
    }

    private func closed(_ ch: Channel) {
        let orphans: [EventLoopPromise<JSONValue>] = lock.withLock {
            guard channel === ch else { return [] }
            channel = nil
            let all = Array(pending.values)
            pending.removeAll()
            return all
        }
        for p in orphans { p.fail(RPCError(kind: .closed, peer: peer.description, detail: "connection closed")) }
    }

    private func connection(deadline: NIODeadline) async throws -> Channel {
        let future: EventLoopFuture<Channel> = lock.withLock {
            if let c = channel, c.isActive { return c.eventLoop.makeSucceededFuture(c) }
            if let f = connecting { return f }
            let target = addressBook.resolve(peer)
            let remaining = deadline - .now()
            let f = ClientBootstrap(group: group)
                .connectTimeout(remaining > .zero ? remaining : .milliseconds(1))
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { [weak self] ch in
                    ch.eventLoop.makeCompletedFuture {
                        try ch.pipeline.syncOperations.addHandler(ByteToMessageHandler(LineFrameDecoder()))
                        try ch.pipeline.syncOperations.addHandler(ClientLineHandler(
                            onLine: { self?.deliver($0) }, onClose: { self?.closed(ch) }))
                    }
                }
                .connect(host: target.host, port: target.port)
            connecting = f
            return f
        }
        do {
            let ch = try await future.get()
            lock.withLock { if connecting === future { connecting = nil; channel = ch } }
            return ch
        } catch {
            lock.withLock { if connecting === future { connecting = nil } }
            throw RPCError(kind: .unreachable, peer: peer.description, detail: "\(error)")
        }
    }
}

final class ClientLineHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let onLine: (ByteBuffer) -> Void
    let onClose: () -> Void
    init(onLine: @escaping (ByteBuffer) -> Void, onClose: @escaping () -> Void) { self.onLine = onLine; self.onClose = onClose }
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { onLine(unwrapInboundIn(data)) }
    func channelInactive(context: ChannelHandlerContext) { onClose(); context.fireChannelInactive() }
    func errorCaught(context: ChannelHandlerContext, error: Error) { context.close(promise: nil) }
}

/// One client per peer address, shared by a node's loops.
public final class RPCClientPool: @unchecked Sendable {
    private let lock = NSLock()
    private var clients: [HostPort: RPCClient] = [:]
    public let addressBook: PeerAddressBook
    public let group: EventLoopGroup
    public init(addressBook: PeerAddressBook, group: EventLoopGroup) { self.addressBook = addressBook; self.group = group }
    public func client(for peer: HostPort) -> RPCClient {
        lock.withLock {
            if let c = clients[peer] { return c }
            let c = RPCClient(peer: peer, addressBook: addressBook, group: group)
            clients[peer] = c
            return c
        }
    }
}
