import WACore

/// Calls a method on another node by its address: the RPC client pool in a node process, a
/// fake in the shells' in-process tests.
public protocol PeerCaller: Sendable {
    /// `timeout` is in real seconds and covers connecting too.
    func call<M: RPCMethod>(_ method: M.Type, _ params: M.Params, on peer: HostPort, timeout: Double) async throws -> M.Result
}

extension RPCClientPool: PeerCaller {
    public func call<M: RPCMethod>(_ method: M.Type, _ params: M.Params, on peer: HostPort, timeout: Double) async throws -> M.Result {
        try await client(for: peer).call(method, params, timeout: timeout)
    }
}
