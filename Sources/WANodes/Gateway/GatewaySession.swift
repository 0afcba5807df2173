import Foundation
import Logging
import NIOCore
import WACore
import WAWire

/// What the message pipeline needs of a live gateway session: its state and an ordered send
/// (frames reach the gateway in the order they were sent). Tests stand in for the gateway here.
public protocol GatewayLink: AnyObject, Sendable {
    var state: GatewaySession.State { get }
    func send(_ frame: GatewayFrame) -> Bool
}

/// A node's connection to the gateway for one shard: hello, answer pings, report state.
/// It never reconnects by itself: whether to connect again is the owner machine's call.
public final class GatewaySession: GatewayLink {
    public enum State: Equatable, Sendable { case connecting, connected, closed(String) }

    public let shard: Int
    public let epoch: Int
    private struct Guarded {
        var connection: LineConnection?
        var state: State = .connecting
        var stopped = false
        var onFrame: (@Sendable (GatewayFrame) -> Void)?
        var onConnected: (@Sendable () -> Void)?
    }
    private let guarded = Locked(Guarded())

    public var onFrame: (@Sendable (GatewayFrame) -> Void)? {
        get { guarded.withLock { $0.onFrame } }
        set { guarded.withLock { $0.onFrame = newValue } }
    }
    /// Called once, when the gateway welcomes the session.
    public var onConnected: (@Sendable () -> Void)? {
        get { guarded.withLock { $0.onConnected } }
        set { guarded.withLock { $0.onConnected = newValue } }
    }

    public init(shard: Int, epoch: Int) { self.shard = shard; self.epoch = epoch }

    public var state: State { guarded.withLock { $0.state } }

    /// Connects and serves the session until it ends; returns why it ended.
    public func run(gateway: HostPort, runtime: NodeRuntime, phone: String, shards: Int = 1) async -> String {
        let timeout = runtime.real(runtime.timings.gatewayPingPeriod * 3, floor: 0.5)
        let conn: LineConnection
        do {
            conn = try await LineConnection.connect(to: gateway, addressBook: runtime.addressBook, group: runtime.group, timeout: timeout)
        } catch {
            return finish("cannot reach the gateway at \(gateway): \(error)")
        }
        let cancelled = guarded.withLock { g -> Bool in
            if g.stopped { return true }
            g.connection = conn
            return false
        }
        if cancelled { conn.close(); return finish("stopped before the connection was up") }
        var hello = GatewayFrame(.hello)
        hello.phone = phone; hello.shard = shard; hello.node = runtime.healthKey; hello.epoch = epoch; hello.shards = shards
        conn.send(hello.encodedLine())
        let welcomeTimer = conn.channel.eventLoop.scheduleTask(in: .nanoseconds(Int64(timeout * 1e9))) { conn.close() }
        var reason = "connection closed by the gateway"
        for await line in conn.lines {
            guard let frame = GatewayFrame.decode(line) else { continue }
            switch frame.type {
            case .welcome:
                welcomeTimer.cancel()
                let first = guarded.withLock { g -> Bool in
                    guard case .connecting = g.state else { return false }
                    g.state = .connected
                    return true
                }
                if first { onConnected?() }
            case .refused:
                reason = "refused by the gateway: \(frame.reason ?? "no reason")"
                conn.close()
            case .ping:
                var pong = GatewayFrame(.pong); pong.seq = frame.seq
                conn.send(pong.encodedLine())
            default:
                onFrame?(frame)
            }
        }
        welcomeTimer.cancel()
        // The loop also ends when the node's task is cancelled: never leave the socket open behind.
        conn.close()
        return finish(guarded.withLock { $0.stopped } ? "closed by this node" : reason)
    }

    private func finish(_ reason: String) -> String {
        guarded.withLock { g in g.state = .closed(reason); g.connection = nil }
        return reason
    }

    public func send(_ frame: GatewayFrame) -> Bool {
        guard let c = guarded.withLock({ $0.connection }), c.isActive else { return false }
        c.send(frame.encodedLine())
        return true
    }

    /// Until this node's end of the connection is closed: a planned release frees the lease only
    /// after it, so the successor's hello cannot reach the gateway while this socket is open.
    public func closed() async {
        guard let c = guarded.withLock({ $0.connection }) else { return }
        try? await c.channel.closeFuture.get()
    }

    /// Says goodbye and closes. Idempotent.
    public func stop(reason: String) {
        let c = guarded.withLock { g -> LineConnection? in g.stopped = true; return g.connection }
        guard let c else { return }
        var bye = GatewayFrame(.bye); bye.reason = reason
        c.send(bye.encodedLine())
        c.close()
    }
}
