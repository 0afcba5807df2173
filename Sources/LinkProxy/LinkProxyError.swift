/// Failures reported by `LinkProxy`; each names the proxy so that runner logs point at the link.
public enum LinkProxyError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `start()` was called on a proxy that is already running or starting.
    case alreadyStarted(proxy: String)
    /// `start()` was called after `stop()`; a stopped proxy is not restarted, make a new one.
    case stopped(proxy: String)
    /// The listening socket could not be bound.
    case bindFailed(proxy: String, host: String, port: Int, reason: String)
    /// The fault's parameters are out of range.
    case invalidFault(LinkFault, reason: String)

    /// A one-line explanation for logs.
    public var description: String {
        switch self {
        case .alreadyStarted(let proxy):
            return "link proxy \(proxy): start() called while already running"
        case .stopped(let proxy):
            return "link proxy \(proxy): start() called after stop(); create a new proxy instead"
        case .bindFailed(let proxy, let host, let port, let reason):
            return "link proxy \(proxy): cannot listen on \(host):\(port): \(reason)"
        case .invalidFault(let fault, let reason):
            return "invalid link fault \(fault): \(reason)"
        }
    }
}
