import Foundation
import WACore

/// Resolves the address a node should dial for a peer. Normally the peer's own `host:port`.
/// When `WA_PEER_OVERRIDES` names a JSON file (`{"127.0.0.1:7001": "127.0.0.1:41234", ...}`),
/// listed peers are dialled at the address given instead: the chaos runner points them at its
/// link proxies this way. The file is re-read when it changes, so links can be rewired live.
public final class PeerAddressBook: Sendable {
    private struct Cache {
        var entries: [String: HostPort] = [:]
        var stamp: (Int, Int)?
    }
    private let path: String?
    private let cache = Locked(Cache())

    public init(overridesFile: String?) { self.path = overridesFile }
    public static let direct = PeerAddressBook(overridesFile: nil)

    public func resolve(_ peer: HostPort) -> HostPort {
        guard let path else { return peer }
        return cache.withLock { cache in
            var st = stat()
            if stat(path, &st) == 0 {
                let stamp = (Int(st.st_mtim.tv_sec), Int(st.st_mtim.tv_nsec) ^ Int(st.st_size))
                if cache.stamp == nil || cache.stamp! != stamp {
                    cache.stamp = stamp
                    if let data = FileManager.default.contents(atPath: path),
                       let map = try? JSONCodec.decode([String: String].self, from: data) {
                        cache.entries = map.compactMapValues(HostPort.init)
                    }
                }
            }
            return cache.entries[peer.description] ?? peer
        }
    }
}
