import LinkProxy
import NIOCore
import NIOPosix
import Testing

/// End-to-end tests on a loopback echo pair. Serialized: they measure time on a 2-core machine,
/// and running them side by side would only add noise to the figures.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct LinkProxyTests {
    @Test func plainForwardingRoundTripsAndCountsTraffic() async throws {
        try await Rig.run { rig in
            let client = try await rig.connect()
            let rtt = try #require(try await client.roundTrip("hello", within: .seconds(2)))
            report("plain round trip: \(Int(rtt * 1000)) ms")
            #expect(rig.server.received.text == "hello")

            let counters = rig.proxy.counters
            #expect(counters.forwardBytes == 5)
            #expect(counters.backwardBytes == 5)
            #expect(counters.connectionsAccepted == 1)
            #expect(counters.activeConnections == 1)
            #expect(counters.bytesDropped == 0)

            await client.close()
            #expect(try await Waiting.until { rig.proxy.counters.activeConnections == 0 })
        }
    }

    @Test func largeTransferArrivesIntactAndInOrder() async throws {
        try await Rig.run { rig in
            let payload = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
            let client = try await rig.connect()
            let start = ContinuousClock.now
            client.send(payload)
            let echoed = try #require(try await client.receive(payload.count, within: .seconds(20)))
            report("4 MiB echoed through the proxy in \(Int(Waiting.seconds(since: start) * 1000)) ms")
            #expect(echoed == payload)
            #expect(rig.proxy.counters.forwardBytes == payload.count)
            #expect(rig.proxy.counters.backwardBytes == payload.count)
        }
    }

    @Test func plainPathStopsReadingWhenUpstreamStopsReading() async throws {
        try await Rig.run(.stalled) { rig in
            let client = try await rig.connect()
            let offered = 32 << 20
            client.send([UInt8](repeating: 7, count: offered))
            // Let the transfer run into the stalled server's window, then see how much the proxy took.
            try await Waiting.pause(.seconds(1))
            let forwarded = rig.proxy.counters.forwardBytes
            report("client offered \(offered >> 20) MiB to a stalled upstream; proxy wrote \(forwarded >> 10) KiB")
            #expect(forwarded > 0)
            #expect(forwarded < 12 << 20)
        }
    }

    @Test func setUpstreamRedirectsOnlyNewConnections() async throws {
        try await Rig.run { rig in
            let replacement = try await EchoServer.start()
            let before = try await rig.connect()
            #expect(try await before.roundTrip("old", within: .seconds(2)) != nil)

            rig.proxy.setUpstream(host: "127.0.0.1", port: replacement.port)
            #expect(rig.proxy.upstream == LinkEndpoint(host: "127.0.0.1", port: replacement.port))
            let after = try await rig.connect()
            #expect(try await after.roundTrip("new", within: .seconds(2)) != nil)
            #expect(try await before.roundTrip("still-old", within: .seconds(2)) != nil)

            #expect(replacement.received.text == "new")
            #expect(rig.server.received.text == "oldstill-old")
            await replacement.stop()
        }
    }

    @Test func unreachableUpstreamClosesTheClient() async throws {
        // Bind and release a port so that nothing listens on it.
        let gone = try await EchoServer.start()
        let deadPort = gone.port
        await gone.stop()
        let proxy = LinkProxy(name: "to-nowhere", upstreamHost: "127.0.0.1", upstreamPort: deadPort)
        try await proxy.start()
        // The proxy resets the accepted socket; on loopback the reset can even beat the client's
        // own connect completion, so either outcome shows the link is down.
        do {
            let client = try await TestClient.connect(to: proxy.listenPort)
            #expect(try await client.closed(within: .seconds(3)))
        } catch {
            report("client saw the reset while connecting: \(error)")
        }
        #expect(try await Waiting.until { proxy.counters.upstreamConnectFailures == 1 })
        #expect(try await Waiting.until { proxy.counters.activeConnections == 0 })
        await proxy.stop()
    }

    @Test func lifecycleRefusesDoubleStartAndStopClosesConnections() async throws {
        let server = try await EchoServer.start()
        let proxy = LinkProxy(name: "lifecycle", upstreamHost: "127.0.0.1", upstreamPort: server.port)
        try await proxy.start()
        #expect(proxy.listenPort != 0)
        await #expect(throws: LinkProxyError.alreadyStarted(proxy: "lifecycle")) { try await proxy.start() }

        let client = try await TestClient.connect(to: proxy.listenPort)
        #expect(try await client.roundTrip("hi", within: .seconds(2)) != nil)
        await proxy.stop()
        #expect(try await client.closed(within: .seconds(2)))
        await #expect(throws: LinkProxyError.stopped(proxy: "lifecycle")) { try await proxy.start() }
        await server.stop()
    }
}
