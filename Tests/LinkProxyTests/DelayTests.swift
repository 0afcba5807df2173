import LinkProxy
import NIOCore
import Testing

extension LinkProxyTests {
    @Test func delayAppliesInEachDirectionAndHealRestoresSpeed() async throws {
        try await Rig.run { rig in
            let client = try await rig.connect()
            let baseline = try #require(try await client.roundTrip("warm", within: .seconds(2)))

            try rig.proxy.apply(.delay(milliseconds: 200, jitterMilliseconds: 0))
            let delayed = try #require(try await client.roundTrip("slow", within: .seconds(3)))

            rig.proxy.heal()
            let healed = try #require(try await client.roundTrip("fast", within: .seconds(2)))
            report("delay(200ms): baseline \(Int(baseline * 1000)) ms, delayed \(Int(delayed * 1000)) ms, "
                + "after heal \(Int(healed * 1000)) ms")
            #expect(delayed >= 0.39)
            #expect(delayed < 2.0)
            #expect(healed < 0.2)
        }
    }

    @Test func healReleasesDelayedBytesAtOnce() async throws {
        try await Rig.run { rig in
            let client = try await rig.connect()
            try rig.proxy.apply(.delay(milliseconds: 5_000, jitterMilliseconds: 0))
            let start = ContinuousClock.now
            client.send("held")
            try await Waiting.pause(.milliseconds(100))
            #expect(rig.server.received.bytes.isEmpty)

            rig.proxy.heal()
            #expect(try await client.receiveText(4, within: .seconds(2)) == "held")
            let elapsed = Waiting.seconds(since: start)
            report("bytes held by a 5 s delay arrived \(Int(elapsed * 1000)) ms after sending (heal at 100 ms)")
            #expect(elapsed < 1.5)
        }
    }

    @Test func jitteredDelayNeverReordersChunks() async throws {
        try await Rig.run(seed: 7) { rig in
            let client = try await rig.connect()
            try rig.proxy.apply(.delay(milliseconds: 60, jitterMilliseconds: 50))

            // Chunks 5 ms apart with ±50 ms jitter: delaying each independently would reorder them.
            let chunks = (0..<40).map { "<\(String(format: "%02d", $0))>" }
            for (index, chunk) in chunks.enumerated() {
                client.channel.eventLoop.scheduleTask(in: .milliseconds(Int64(index * 5))) {
                    client.send(chunk)
                }
            }
            let expected = chunks.joined()
            let start = ContinuousClock.now
            let echoed = try #require(try await client.receiveText(expected.utf8.count, within: .seconds(5)))
            report("40 jittered chunks (60±50 ms each way) echoed in order in \(Int(Waiting.seconds(since: start) * 1000)) ms")
            #expect(echoed == expected)
            #expect(rig.server.received.text == expected)
        }
    }
}
