import Testing
@testable import WACore

@Suite("ShardRouter (FNV-1a 64)")
struct ShardRouterTests {
    @Test func fnv1aMatchesTheReferenceVectors() {
        #expect(ShardRouter.fnv1a64("") == 0xcbf2_9ce4_8422_2325)
        #expect(ShardRouter.fnv1a64("a") == 0xaf63_dc4c_8601_ec8c)
        #expect(ShardRouter.fnv1a64("foobar") == 0x8594_4171_f739_67e8)
    }

    struct Row: Sendable, CustomTestStringConvertible {
        let recipient: String
        let hash: UInt64
        /// Shards for 2, 4, 8, 16 and 32, computed once with an independent implementation.
        let shards: [Int]
        var testDescription: String { recipient }
    }

    static let table: [Row] = [
        Row(recipient: "16505550100", hash: 0x71b9_b071_a7e9_d57b, shards: [1, 3, 3, 11, 27]),
        Row(recipient: "447700900123", hash: 0x0b63_1320_2883_0f32, shards: [0, 2, 2, 2, 18]),
        Row(recipient: "4915112345678", hash: 0x420d_20a7_fbf2_a35b, shards: [1, 3, 3, 11, 27]),
        Row(recipient: "33612345678", hash: 0x34c9_adcf_dc1e_a93f, shards: [1, 3, 7, 15, 31]),
        Row(recipient: "5511987654321", hash: 0x489f_2622_25a4_a870, shards: [0, 0, 0, 0, 16]),
        Row(recipient: "919876543210", hash: 0x38e3_ccc1_162a_ba36, shards: [0, 2, 6, 6, 22]),
        Row(recipient: "8613800138000", hash: 0xafe8_47e7_98f7_da9d, shards: [1, 1, 5, 13, 29]),
        Row(recipient: "61412345678", hash: 0x9ac4_5ea3_4356_a06c, shards: [0, 0, 4, 12, 12]),
        Row(recipient: "27821234567", hash: 0x39a8_2be9_e350_7bc8, shards: [0, 0, 0, 8, 8]),
        Row(recipient: "12025550123", hash: 0x88b5_fbc1_2714_4dd1, shards: [1, 1, 1, 1, 17]),
    ]

    @Test(arguments: table)
    func shardOfAFixedRecipientNeverChanges(_ row: Row) {
        #expect(ShardRouter.fnv1a64(row.recipient) == row.hash)
        for (count, expected) in zip([2, 4, 8, 16, 32], row.shards) {
            #expect(ShardRouter.shard(for: row.recipient, shards: count) == expected, "shards=\(count)")
        }
        #expect(ShardRouter.shard(for: row.recipient, shards: 1) == 0)
    }

    @Test func plusSignAndWhitespaceDoNotChangeTheShard() {
        #expect(ShardRouter.normalize("+1 650 555") == "1650555")
        #expect(ShardRouter.normalize(" +1\t650 555 ") == "1650555")
        for n in ShardRouter.validShardCounts {
            #expect(ShardRouter.shard(for: "+1 650 555", shards: n) == ShardRouter.shard(for: "1650555", shards: n))
            #expect(ShardRouter.shard(for: "+16505550100", shards: n) == ShardRouter.shard(for: "16505550100", shards: n))
        }
        #expect(ShardRouter.shard(for: "+1 650 555", shards: 32) == 16)
    }

    @Test func onlyOneLeadingPlusIsRemoved() {
        #expect(ShardRouter.normalize("1+2") == "1+2")
        #expect(ShardRouter.normalize("++1") == "+1")
    }

    @Test func validShardCountsAreThePowersOfTwoUpTo32() {
        #expect(ShardRouter.validShardCounts == [1, 2, 4, 8, 16, 32])
    }

    @Test func recipientsSpreadOverEveryShard() {
        var seen = Set<Int>()
        for i in 0..<2000 { seen.insert(ShardRouter.shard(for: "1650555\(i)", shards: 32)) }
        #expect(seen.count == 32)
    }
}
