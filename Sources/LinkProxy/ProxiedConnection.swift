import NIOCore
import WACore

/// One accepted client socket and, once dialled, its upstream socket, with the two relays
/// between them. The upstream is dialled on the client's event loop, so the whole connection
/// lives on one loop and needs no locking; every method must be called on `eventLoop`.
// @unchecked: `upstream`, the relays, `pending`, `openSockets` and `finished` are confined to `eventLoop` (the client's); every method runs there.
final class ProxiedConnection: @unchecked Sendable {
    /// Accept order, starting at 1; also picks this connection's jitter stream.
    let number: UInt64
    let client: Channel
    var eventLoop: EventLoop { client.eventLoop }

    private var upstream: Channel?
    private var forward: DirectionalRelay?
    private var backward: DirectionalRelay?
    private var pending: PendingClientHandler?
    private var openSockets = 1
    private var finished = false
    private let onFinished: @Sendable () -> Void

    /// `onFinished` runs once, on the event loop, when every socket of the connection is closed.
    init(number: UInt64, client: Channel, onFinished: @escaping @Sendable () -> Void) {
        self.number = number
        self.client = client
        self.onFinished = onFinished
    }

    /// Starts watching the client socket; `onActive` runs once it is active. Called on the
    /// client's event loop (from the accept initializer), after the proxy has registered us.
    func begin(onActive: @escaping (ProxiedConnection) -> Void) {
        client.closeFuture.assumeIsolated().whenComplete { _ in
            self.socketClosed()
        }
        let pending = PendingClientHandler { [weak self] in
            if let self { onActive(self) }
        }
        self.pending = pending
        do {
            try client.pipeline.syncOperations.addHandler(pending)
        } catch {
            client.close(promise: nil)
        }
    }

    /// Swallows the client's bytes without ever dialling the upstream (full partition at accept).
    func blackhole(counters: CounterStore) {
        let early = takeEarlyInput()
        counters.addDropped(early.chunks.reduce(0) { $0 + $1.readableBytes }, .forward)
        try? client.pipeline.syncOperations.addHandler(BlackholeHandler(counters: counters))
    }

    /// Wires the freshly dialled upstream to the client and starts relaying both ways.
    func attach(upstream: Channel, board: FaultBoard, counters: CounterStore, seed: UInt64) {
        guard !finished, client.isActive else {
            // The client left (or was reset) while the dial was in flight.
            upstream.close(promise: nil)
            return
        }
        self.upstream = upstream
        openSockets += 1
        upstream.closeFuture.assumeIsolated().whenComplete { _ in
            self.socketClosed()
        }

        let forward = DirectionalRelay(
            direction: .forward, destination: upstream, board: board, counters: counters,
            random: SplitMix64(seed: seed, stream: number &* 2))
        let backward = DirectionalRelay(
            direction: .backward, destination: client, board: board, counters: counters,
            random: SplitMix64(seed: seed, stream: number &* 2 &+ 1))
        let clientSide = RelayChannelHandler(outgoing: forward, incoming: backward)
        let upstreamSide = RelayChannelHandler(outgoing: backward, incoming: forward)
        forward.source = clientSide
        backward.source = upstreamSide
        self.forward = forward
        self.backward = backward
        let early = takeEarlyInput()
        do {
            try client.pipeline.syncOperations.addHandler(clientSide)
            try upstream.pipeline.syncOperations.addHandler(upstreamSide)
        } catch {
            closeAll()
            return
        }
        // Bytes (and an end of stream) that arrived during the dial go first, in order.
        for chunk in early.chunks {
            forward.receive(chunk)
        }
        if early.ended {
            forward.sourceEnded(.halfClose)
        }
        clientSide.startReading()
        upstreamSide.startReading()
    }

    /// The proxy's fault changed: let both directions drop, release or re-pace what they hold.
    func faultChanged() {
        forward?.pump()
        backward?.pump()
    }

    /// Resets both sockets (RST), as the `reset` fault demands.
    func abort() {
        SocketAbort.abort(sockets, on: eventLoop)
    }

    /// Closes both sockets normally; the future completes once both are closed.
    @discardableResult
    func closeAll() -> EventLoopFuture<Void> {
        let sockets = self.sockets
        for socket in sockets {
            socket.close(promise: nil)
        }
        return EventLoopFuture.andAllComplete(sockets.map(\.closeFuture), on: eventLoop)
    }

    private var sockets: [Channel] {
        [client] + (upstream.map { [$0] } ?? [])
    }

    private func takeEarlyInput() -> PendingClientHandler.EarlyInput {
        defer { pending = nil }
        return pending?.handOver() ?? PendingClientHandler.EarlyInput()
    }

    private func socketClosed() {
        openSockets -= 1
        guard openSockets == 0, !finished else { return }
        finished = true
        onFinished()
    }
}
