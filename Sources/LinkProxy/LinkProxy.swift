import WACore
import NIOCore
import NIOPosix

/// A TCP forwarder for one directed link between cluster nodes (e.g. "master1->wacore2"), into
/// which network faults are injected without privileges. Nodes connect to `listenPort` instead of
/// the peer's real port. One fault is active at a time: `apply` replaces it, `heal` removes it.
public final class LinkProxy: Sendable {
    /// The link's name for logs and reports, e.g. "master1->wacore2".
    public let name: String
    /// The host the proxy listens on.
    public let listenHost: String
    /// The seed of the generator behind delay jitter; the same seed gives the same jitter.
    public let seed: UInt64

    /// How long a dial to the upstream may take before the client is reset.
    static let upstreamConnectTimeout = TimeAmount.seconds(5)

    private let requestedListenPort: Int
    private let group: EventLoopGroup
    private let logSink: (@Sendable (String) -> Void)?
    private let board = FaultBoard()
    private let counterStore = CounterStore()
    private let state: Locked<State>

    private enum Phase {
        case idle
        case starting
        case running(listener: Channel)
        case stopped
    }

    private struct State {
        var phase = Phase.idle
        var upstream: LinkEndpoint
        var boundPort: Int?
        var connections: [UInt64: ProxiedConnection] = [:]
        var lastConnectionNumber: UInt64 = 0
    }

    /// Creates a stopped proxy; `listenPort: 0` picks an ephemeral port at `start()`.
    public init(
        name: String,
        upstreamHost: String,
        upstreamPort: Int,
        listenHost: String = "127.0.0.1",
        listenPort: Int = 0,
        seed: UInt64 = 0,
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        log: (@Sendable (String) -> Void)? = nil
    ) {
        self.name = name
        self.listenHost = listenHost
        self.requestedListenPort = listenPort
        self.seed = seed
        self.group = group
        self.logSink = log
        self.state = Locked(State(upstream: LinkEndpoint(host: upstreamHost, port: upstreamPort)))
    }

    /// The bound port once started (stays readable after stop); the requested port before that.
    public var listenPort: Int {
        state.withLock { $0.boundPort ?? requestedListenPort }
    }

    /// Where new connections are forwarded.
    public var upstream: LinkEndpoint {
        state.withLock { $0.upstream }
    }

    /// The fault in force, or nil when forwarding plainly (`reset` is one-shot and never shows).
    public var activeFault: LinkFault? {
        board.current.fault
    }

    /// A snapshot of the traffic counters.
    public var counters: LinkCounters {
        counterStore.snapshot
    }

    /// Binds the listening socket and starts accepting; throws `LinkProxyError` on failure.
    public func start() async throws {
        try state.withLock { state in
            switch state.phase {
            case .idle: state.phase = .starting
            case .starting, .running: throw LinkProxyError.alreadyStarted(proxy: name)
            case .stopped: throw LinkProxyError.stopped(proxy: name)
            }
        }
        let listener: Channel
        do {
            listener = try await ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .serverChannelOption(.backlog, value: 256)
                // Nothing is read from a client before its upstream is connected: no buffering.
                .childChannelOption(.autoRead, value: false)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelInitializer { [weak self] channel in
                    guard let self else { return channel.close() }
                    self.accept(channel)
                    return channel.eventLoop.makeSucceededVoidFuture()
                }
                .bind(host: listenHost, port: requestedListenPort)
                .get()
        } catch {
            state.withLock { $0.phase = .idle }
            throw LinkProxyError.bindFailed(
                proxy: name, host: listenHost, port: requestedListenPort, reason: "\(error)")
        }
        let port = listener.localAddress?.port ?? requestedListenPort
        let stoppedWhileStarting = state.withLock { state -> Bool in
            state.boundPort = port
            if case .stopped = state.phase { return true }
            state.phase = .running(listener: listener)
            return false
        }
        if stoppedWhileStarting {
            try? await listener.close()
            return
        }
        log("listening on \(listenHost):\(port), forwarding to \(upstream)")
    }

    /// Closes the listener and every connection, and waits until they are closed.
    public func stop() async {
        let (listener, connections) = state.withLock { state -> (Channel?, [ProxiedConnection]) in
            var listener: Channel?
            if case .running(let channel) = state.phase {
                listener = channel
            }
            state.phase = .stopped
            return (listener, Array(state.connections.values))
        }
        try? await listener?.close()
        for connection in connections {
            try? await connection.eventLoop.flatSubmit { connection.closeAll() }.get()
        }
        log("stopped")
    }

    /// Sends connections accepted from now on to `host:port` (a restarted node); open ones stay put.
    public func setUpstream(host: String, port: Int) {
        let endpoint = LinkEndpoint(host: host, port: port)
        state.withLock { $0.upstream = endpoint }
        log("upstream is now \(endpoint)")
    }

    /// Makes `fault` the active fault, replacing any other; `reset` aborts all connections and heals.
    ///
    /// It governs every byte read after this returns; bytes already held by a previous delay or
    /// bandwidth fault are released, paced or dropped under the new fault on the connections'
    /// event loops right after.
    public func apply(_ fault: LinkFault) throws {
        try fault.validate()
        if case .reset = fault {
            board.set(nil)
            let connections = currentConnections()
            counterStore.connectionsWereReset(connections.count)
            for connection in connections {
                connection.eventLoop.execute { connection.abort() }
            }
            log("reset \(connections.count) connection(s)")
            return
        }
        board.set(fault)
        notifyFaultChanged()
        log("fault applied: \(fault)")
    }

    /// Removes the active fault: forwarding is plain again at once and held bytes are released.
    /// Connection directions that lost bytes to a partition stay silent; new connections work.
    public func heal() {
        board.set(nil)
        notifyFaultChanged()
        log("healed")
    }

    private func accept(_ client: Channel) {
        counterStore.connectionOpened()
        // Numbering, the "stopped?" check and registration happen under one lock, so stop()
        // either sees the connection and closes it, or the connection is refused here.
        let connection = state.withLock { state -> ProxiedConnection? in
            if case .stopped = state.phase { return nil }
            state.lastConnectionNumber += 1
            let number = state.lastConnectionNumber
            let connection = ProxiedConnection(number: number, client: client) { [weak self] in
                self?.connectionFinished(number)
            }
            state.connections[number] = connection
            return connection
        }
        guard let connection else {
            counterStore.connectionFinished()
            client.close(promise: nil)
            return
        }
        connection.begin { [weak self] connection in
            self?.connectUpstream(for: connection)
        }
    }

    /// Decides, as the client's socket becomes active, whether it is blackholed or relayed.
    private func connectUpstream(for connection: ProxiedConnection) {
        if let fault = board.current.fault, fault.blocks(.forward), fault.blocks(.backward) {
            connection.blackhole(counters: counterStore)
            return
        }
        dialUpstream(for: connection)
    }

    private func dialUpstream(for connection: ProxiedConnection) {
        let endpoint = upstream
        let loop = connection.eventLoop
        ClientBootstrap(group: loop)
            .channelOption(.autoRead, value: false)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(Self.upstreamConnectTimeout)
            .connect(host: endpoint.host, port: endpoint.port)
            .hop(to: loop)
            .assumeIsolated()
            .whenComplete { [self] result in
                switch result {
                case .success(let upstreamChannel):
                    connection.attach(
                        upstream: upstreamChannel, board: board, counters: counterStore, seed: seed)
                case .failure(let error):
                    // The client already holds an accepted socket; a reset is the nearest thing
                    // to the "connection refused" it would have seen without the proxy.
                    counterStore.upstreamConnectFailed()
                    log("cannot reach upstream \(endpoint): \(error)")
                    connection.abort()
                }
            }
    }

    private func connectionFinished(_ number: UInt64) {
        state.withLock { _ = $0.connections.removeValue(forKey: number) }
        counterStore.connectionFinished()
    }

    private func currentConnections() -> [ProxiedConnection] {
        state.withLock { Array($0.connections.values) }
    }

    private func notifyFaultChanged() {
        for connection in currentConnections() {
            connection.eventLoop.execute { connection.faultChanged() }
        }
    }

    private func log(_ message: String) {
        logSink?("[\(name)] \(message)")
    }
}

extension LinkProxy: CustomStringConvertible {
    /// E.g. `master1->wacore2 (127.0.0.1:40123 -> 127.0.0.1:7002, delay(200ms±0ms))`.
    public var description: String {
        "\(name) (\(listenHost):\(listenPort) -> \(upstream), \(activeFault.map { "\($0)" } ?? "healthy"))"
    }
}
