import LinkProxy
import NIOCore
import Testing

extension LinkProxyTests {
    /// How long "nothing arrives" is watched for.
    static let silence = TimeAmount.milliseconds(300)

    @Test func partitionBothBlackholesNewAndExistingConnectionsUntilHeal() async throws {
        try await Rig.run { rig in
            let existing = try await rig.connect()
            #expect(try await existing.roundTrip("before", within: .seconds(2)) != nil)

            try rig.proxy.apply(.partition(direction: .both))
            existing.send("lost")
            #expect(try await existing.receive(1, within: Self.silence) == nil)

            // A new connection is accepted but hangs: no echo, and the server never hears of it.
            let newcomer = try await rig.connect()
            newcomer.send("void")
            #expect(try await newcomer.receive(1, within: Self.silence) == nil)
            #expect(rig.server.received.text == "before")
            #expect(rig.proxy.counters.forwardBytesDropped == 8)

            rig.proxy.heal()
            #expect(rig.proxy.activeFault == nil)
            let afterHeal = try await rig.connect()
            let rtt = try #require(try await afterHeal.roundTrip("back", within: .seconds(2)))
            report("partition(both): new connection echoes \(Int(rtt * 1000)) ms after heal")
        }
    }

    @Test func partitionBackwardDeliversToServerButNotToClient() async throws {
        try await Rig.run { rig in
            let existing = try await rig.connect()
            #expect(try await existing.roundTrip("a", within: .seconds(2)) != nil)

            try rig.proxy.apply(.partition(direction: .backward))
            existing.send("bb")
            let newcomer = try await rig.connect()
            newcomer.send("ccc")

            #expect(try await rig.server.received.waitFor(count: 6, within: .seconds(2)))
            #expect(try await existing.receive(1, within: Self.silence) == nil)
            #expect(try await newcomer.receive(1, within: .milliseconds(50)) == nil)
            #expect(Set(["abbccc", "acccbb"]).contains(rig.server.received.text))
            #expect(try await Waiting.until { rig.proxy.counters.backwardBytesDropped == 5 })
            #expect(rig.proxy.counters.forwardBytesDropped == 0)
        }
    }

    @Test func partitionForwardDeliversNothingToServer() async throws {
        try await Rig.run { rig in
            let existing = try await rig.connect()
            #expect(try await existing.roundTrip("a", within: .seconds(2)) != nil)

            try rig.proxy.apply(.partition(direction: .forward))
            existing.send("bb")
            let newcomer = try await rig.connect()
            newcomer.send("ccc")

            #expect(try await rig.server.received.waitFor(count: 2, within: Self.silence) == false)
            #expect(try await existing.receive(1, within: .milliseconds(50)) == nil)
            #expect(try await newcomer.receive(1, within: .milliseconds(50)) == nil)
            #expect(rig.server.received.text == "a")
            #expect(rig.proxy.counters.forwardBytesDropped == 5)

            // Dropped, not queued, and never a stream with a hole in it: the connection that lost
            // bytes stays silent after heal, while new connections work again.
            rig.proxy.heal()
            existing.send("dd")
            let fresh = try await rig.connect()
            #expect(try await fresh.roundTrip("ee", within: .seconds(2)) != nil)
            #expect(try await existing.receive(1, within: Self.silence) == nil)
            #expect(rig.server.received.text == "aee")
            #expect(rig.proxy.counters.forwardBytesDropped == 7)
        }
    }

    @Test func connectionIdleDuringAPartitionRecoversAfterHeal() async throws {
        try await Rig.run { rig in
            let idle = try await rig.connect()
            #expect(try await idle.roundTrip("a", within: .seconds(2)) != nil)
            try rig.proxy.apply(.partition(direction: .both))
            try await Waiting.pause(.milliseconds(100))
            rig.proxy.heal()
            // Nothing was lost while it was quiet, so like a real TCP connection it carries on.
            #expect(try await idle.roundTrip("b", within: .seconds(2)) != nil)
            #expect(rig.proxy.counters.bytesDropped == 0)
        }
    }
}
