import WACore
/// A snapshot of one proxy's traffic, for chaos reports. Forward is client -> upstream.
public struct LinkCounters: Sendable, Hashable, Codable {
    /// Bytes written towards the upstream.
    public var forwardBytes = 0
    /// Bytes written back towards clients.
    public var backwardBytes = 0
    /// Client -> upstream bytes discarded (partition, or the upstream side had already gone).
    public var forwardBytesDropped = 0
    /// Upstream -> client bytes discarded (partition, or the client side had already gone).
    public var backwardBytesDropped = 0
    /// Connections accepted on the listening socket since start.
    public var connectionsAccepted = 0
    /// Connections with at least one socket still open.
    public var activeConnections = 0
    /// Accepted connections closed because the upstream refused or timed out.
    public var upstreamConnectFailures = 0
    /// Connections aborted by the `reset` fault.
    public var connectionsReset = 0

    /// All bytes discarded, both directions.
    public var bytesDropped: Int { forwardBytesDropped + backwardBytesDropped }

    /// Creates zeroed counters.
    public init() {}
}

/// The live, thread-safe counters behind `LinkProxy.counters`.
final class CounterStore: Sendable {
    private let counters = Locked(LinkCounters())

    var snapshot: LinkCounters { counters.withLock { $0 } }

    func addForwarded(_ bytes: Int, _ direction: LinkDirection) {
        counters.withLock {
            switch direction {
            case .forward: $0.forwardBytes += bytes
            case .backward: $0.backwardBytes += bytes
            }
        }
    }

    func addDropped(_ bytes: Int, _ direction: LinkDirection) {
        guard bytes > 0 else { return }
        counters.withLock {
            switch direction {
            case .forward: $0.forwardBytesDropped += bytes
            case .backward: $0.backwardBytesDropped += bytes
            }
        }
    }

    func connectionOpened() {
        counters.withLock {
            $0.connectionsAccepted += 1
            $0.activeConnections += 1
        }
    }

    func connectionFinished() {
        counters.withLock { $0.activeConnections -= 1 }
    }

    func upstreamConnectFailed() {
        counters.withLock { $0.upstreamConnectFailures += 1 }
    }

    func connectionsWereReset(_ count: Int) {
        counters.withLock { $0.connectionsReset += count }
    }
}
