import LinkProxy
import NIOCore
import Testing

extension LinkProxyTests {
    @Test func bandwidthPacesTrafficAndHealLiftsTheLimit() async throws {
        try await Rig.run { rig in
            let client = try await rig.connect()
            let payload = [UInt8](repeating: 0x61, count: 20_000)

            try rig.proxy.apply(.bandwidth(bytesPerSecond: 10_000))
            var start = ContinuousClock.now
            client.send(payload)
            #expect(try await client.receive(payload.count, within: .seconds(8)) == payload)
            let paced = Waiting.seconds(since: start)

            rig.proxy.heal()
            start = ContinuousClock.now
            client.send(payload)
            #expect(try await client.receive(payload.count, within: .seconds(2)) == payload)
            let unpaced = Waiting.seconds(since: start)
            report("20 kB echoed at 10 kB/s in \(Int(paced * 1000)) ms; after heal in \(Int(unpaced * 1000)) ms")
            #expect(paced >= 1.5)
            #expect(paced < 6.0)
            #expect(unpaced < 0.5)
        }
    }
}
