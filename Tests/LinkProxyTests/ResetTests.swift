import Foundation
import LinkProxy
import NIOCore
import Testing

extension LinkProxyTests {
    @Test func resetAbortsExistingConnectionsAndKeepsAccepting() async throws {
        try await Rig.run { rig in
            let first = try await rig.connect()
            let second = try await rig.connect()
            #expect(try await first.roundTrip("one", within: .seconds(2)) != nil)
            #expect(try await second.roundTrip("two", within: .seconds(2)) != nil)

            let start = ContinuousClock.now
            try rig.proxy.apply(.reset)
            #expect(try await first.closed(within: .seconds(2)))
            #expect(try await second.closed(within: .seconds(2)))
            report("reset closed 2 connections within \(Int(Waiting.seconds(since: start) * 1000)) ms")
            #expect(rig.proxy.activeFault == nil)
            #expect(rig.proxy.counters.connectionsReset == 2)
            // SO_LINGER 0: the client sees a reset, not an orderly end of stream.
            let error = try await first.closingError()
            report("reset: client saw \(error.map { "\($0)" } ?? "a plain EOF")")
            #expect((error as? IOError)?.errnoCode == ECONNRESET)
            #expect(try await Waiting.until { rig.server.openConnections == 0 })

            let fresh = try await rig.connect()
            #expect(try await fresh.roundTrip("three", within: .seconds(2)) != nil)
            #expect(try await Waiting.until { rig.proxy.counters.activeConnections == 1 })
        }
    }

    @Test func resetReplacesAnActivePartition() async throws {
        try await Rig.run { rig in
            try rig.proxy.apply(.partition(direction: .both))
            let hung = try await rig.connect()
            // Reset covers connections the proxy has accepted, not ones still in the kernel's queue.
            #expect(try await Waiting.until { rig.proxy.counters.activeConnections == 1 })
            try rig.proxy.apply(.reset)
            #expect(try await hung.closed(within: .seconds(2)))
            let fresh = try await rig.connect()
            #expect(try await fresh.roundTrip("ok", within: .seconds(2)) != nil)
        }
    }
}
