import LinkProxy
import NIOCore

/// An echo server with a LinkProxy in front of it: the setup of nearly every test.
struct Rig {
    let server: EchoServer
    let proxy: LinkProxy

    /// Starts a server and a proxy, runs `body`, and always tears both down.
    static func run(
        _ behaviour: EchoServer.Behaviour = .echo,
        seed: UInt64 = 42,
        name: String = #function,
        _ body: (Rig) async throws -> Void
    ) async throws {
        let server = try await EchoServer.start(behaviour)
        let proxy = LinkProxy(name: name, upstreamHost: "127.0.0.1", upstreamPort: server.port, seed: seed, log: { print($0) })
        let rig = Rig(server: server, proxy: proxy)
        do {
            try await proxy.start()
            try await body(rig)
        } catch {
            await rig.stop()
            throw error
        }
        await rig.stop()
    }

    /// A new client connection to the proxy.
    func connect() async throws -> TestClient {
        try await TestClient.connect(to: proxy.listenPort)
    }

    func stop() async {
        await proxy.stop()
        await server.stop()
    }
}

/// Prints a measured figure so that test runs document what they saw.
func report(_ figure: String) {
    print("[figure] \(figure)")
}
