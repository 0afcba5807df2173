/// Maps a recipient to its shard: `shard_id = hash(recipient_id) % shards`.
///
/// The hash is 64-bit FNV-1a over the UTF-8 bytes of the recipient with a leading "+" and any
/// whitespace removed. FNV-1a is fixed by its definition (offset basis 0xcbf29ce484222325,
/// prime 0x100000001b3), so it is stable across processes, versions and platforms, unlike
/// Swift's per-process seeded `hashValue`.
public enum ShardRouter {
    public static let validShardCounts: [Int] = [1, 2, 4, 8, 16, 32]

    public static func normalize(_ recipient: String) -> String {
        var s = recipient.filter { !$0.isWhitespace }
        if s.hasPrefix("+") { s.removeFirst() }
        return s
    }

    public static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    public static func shard(for recipient: String, shards: Int) -> Int {
        precondition(shards > 0, "shard count must be positive")
        return Int(fnv1a64(normalize(recipient)) % UInt64(shards))
    }
}
