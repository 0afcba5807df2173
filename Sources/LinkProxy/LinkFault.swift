/// Which bytes a partition cuts: `forward` is client -> upstream, `backward` is upstream -> client.
public enum PartitionDirection: String, Sendable, Hashable, Codable, CaseIterable {
    case both
    case forward
    case backward
}

/// A network fault a `LinkProxy` injects; one is active at a time and `apply` replaces the previous.
public enum LinkFault: Sendable, Hashable, Codable {
    /// Blackhole: bytes in the cut direction(s) are dropped, never queued; a direction that lost
    /// bytes stays silent after heal (TCP cannot skip a hole), idle ones recover.
    case partition(direction: PartitionDirection)
    /// Every chunk waits `milliseconds` ± uniform `jitterMilliseconds` (seeded), per direction, in order.
    case delay(milliseconds: Int, jitterMilliseconds: Int)
    /// Each direction of each connection is paced to `bytesPerSecond`, in order.
    case bandwidth(bytesPerSecond: Int)
    /// One-shot: abort (RST) every existing connection, then forward normally again.
    case reset

    /// Throws `LinkProxyError.invalidFault` for values that cannot be applied.
    public func validate() throws {
        switch self {
        case .delay(let milliseconds, let jitter):
            if milliseconds < 0 || jitter < 0 {
                throw LinkProxyError.invalidFault(self, reason: "delay and jitter must not be negative")
            }
        case .bandwidth(let bytesPerSecond):
            if bytesPerSecond <= 0 {
                throw LinkProxyError.invalidFault(self, reason: "bandwidth must be at least 1 byte per second")
            }
        case .partition, .reset:
            break
        }
    }

    /// Whether bytes travelling in `direction` are dropped while this fault is active.
    func blocks(_ direction: LinkDirection) -> Bool {
        guard case .partition(let cut) = self else { return false }
        switch (cut, direction) {
        case (.both, _), (.forward, .forward), (.backward, .backward): return true
        case (.forward, .backward), (.backward, .forward): return false
        }
    }
}

extension LinkFault: CustomStringConvertible {
    /// A short form for logs and reports, e.g. `delay(200ms±50ms)`.
    public var description: String {
        switch self {
        case .partition(let direction): return "partition(\(direction.rawValue))"
        case .delay(let milliseconds, let jitter): return "delay(\(milliseconds)ms±\(jitter)ms)"
        case .bandwidth(let bytesPerSecond): return "bandwidth(\(bytesPerSecond)B/s)"
        case .reset: return "reset"
        }
    }
}

/// The way bytes travel through one proxied connection.
enum LinkDirection: Sendable {
    /// Client -> upstream.
    case forward
    /// Upstream -> client.
    case backward
}
