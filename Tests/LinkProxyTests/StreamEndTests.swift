import LinkProxy
import NIOCore
import Testing

extension LinkProxyTests {
    @Test func halfCloseReachesTheServerAndTheReplyStillArrives() async throws {
        try await Rig.run { rig in
            let client = try await rig.connect()
            client.send("bye")
            try await client.finishSending()
            // The echo server answers, then closes when it sees end of stream; both must get through.
            #expect(try await client.receiveText(3, within: .seconds(2)) == "bye")
            #expect(try await client.closed(within: .seconds(2)))
            #expect(try await Waiting.until { rig.proxy.counters.activeConnections == 0 })
        }
    }

    @Test func closureIsWithheldAcrossAPartitionUntilHeal() async throws {
        try await Rig.run { rig in
            let client = try await rig.connect()
            #expect(try await client.roundTrip("hi", within: .seconds(2)) != nil)
            #expect(rig.server.openConnections == 1)

            // A real cut would not carry the FIN either: the server must not learn of the close.
            try rig.proxy.apply(.partition(direction: .forward))
            await client.close()
            try await Waiting.pause(Self.silence)
            #expect(rig.server.openConnections == 1)
            #expect(rig.proxy.counters.activeConnections == 1)

            rig.proxy.heal()
            #expect(try await Waiting.until { rig.server.openConnections == 0 })
            #expect(try await Waiting.until { rig.proxy.counters.activeConnections == 0 })
        }
    }
}
