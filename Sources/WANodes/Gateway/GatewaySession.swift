import Foundation
import Logging
import NIOCore
import WACore
import WAWire

/// A node's connection to the gateway for one shard: hello, answer pings, report state.
/// It never reconnects by itself: whether to connect again is the owner machine's call.
public final class GatewaySession: @unchecked Sendable {
    public enum State: Equatable, Sendable { case connecting, connected, closed(String) }

    public let shard: Int
    public let epoch: Int
    private let lock = NSLock()
    private var connection: LineConnection?
    private var _state: State = .connecting
    private var stopped = false
    public var onFrame: (@Sendable (GatewayFrame) -> Void)?
    /// Called once, when the gateway welcomes the session.
    public var onConnected: (@Sendable () -> Void)?

    public init(shard: Int, epoch: Int) { self.shard = shard; self.epoch = epoch }

    public var state: State { lock.withLock { _state } }

    /// Connects and serves the session until it ends; returns why it ended.
    public func run(gateway: HostPort, runtime: NodeRuntime, phone: String, shards: Int = 1) async -> String {
        let timeout = runtime.real(runtime.timings.gatewayPingPeriod * 3, floor: 0.5)
        let conn: LineConnection
        do {
            conn = try await LineConnection.connect(to: gateway, addressBook: runtime.addressBook, group: runtime.group, timeout: timeout)
        } catch {
            return finish("cannot reach the gateway at \(gateway): \(error)")
        }
        let cancelled = lock.withLock { () -> Bool in
            if stopped { return true }
            connection = conn
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
                let first = lock.withLock { () -> Bool in
                    guard case .connecting = _state else { return false }
                    _state = .connected
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
        return finish(lock.withLock { stopped } ? "closed by this node" : reason)
    }

    private func finish(_ reason: String) -> String {
        lock.withLock { _state = .closed(reason); connection = nil }
        return reason
    }

    public func send(_ frame: GatewayFrame) -> Bool {
        guard let c = lock.withLock({ connection }), c.isActive else { return false }
        c.send(frame.encodedLine())
        return true
    }

    /// Says goodbye and closes. Idempotent.
    public func stop(reason: String) {
        let c = lock.withLock { () -> LineConnection? in stopped = true; return connection }
        guard let c else { return }
        var bye = GatewayFrame(.bye); bye.reason = reason
        c.send(bye.encodedLine())
        c.close()
    }
}
