import Foundation
import Testing
import WACore

/// The routing hash must never change: a committed table of recipients → shard for 2, 4, 8,
/// 16 and 32 shards (computed by an independent implementation) is checked here.
@Suite struct ShardTableFixtureTests {
    struct Table: Decodable {
        struct Row: Decodable { let recipient: String; let fnv1a64: String; let shard: [String: Int] }
        let shards: [Int]
        let recipients: [Row]
    }

    @Test func committedShardTableStillHolds() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("fixtures/routing/shard-table.json")
        let table = try JSONDecoder().decode(Table.self, from: Data(contentsOf: url))
        #expect(table.recipients.count >= 20)
        for row in table.recipients {
            #expect(String(ShardRouter.fnv1a64(ShardRouter.normalize(row.recipient)), radix: 16).leftPadded(16) == row.fnv1a64, "\(row.recipient)")
            for n in table.shards {
                #expect(ShardRouter.shard(for: row.recipient, shards: n) == row.shard["\(n)"], "\(row.recipient) with \(n) shards")
            }
        }
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { String(repeating: "0", count: max(0, n - count)) + self }
}
