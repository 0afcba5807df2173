import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ShellTestKit
import Testing
import WACore
import WANodes

/// The coreapp's real webhook client against a local receiver: connections are reused, and
/// `https://` works with a private CA given in `WA_WEBHOOK_CA_FILE`.
@Suite("Webhook client")
struct HTTPWebhookPosterTests {
    @Test func postsReuseOneConnection() async throws {
        let server = try await WebhookTestServer.start(tls: nil)
        let target = try WebhookTarget.parse("http://127.0.0.1:\(server.port)/hook")
        try await withPoster { poster in
            for i in 0..<20 {
                let status = try await poster.post(Data(#"{"n":\#(i)}"#.utf8), to: target, timeout: 5)
                #expect(status == 200)
            }
        }
        await server.close()
        #expect(server.requests == 20)
        #expect(server.connections == 1, "every POST opened a connection of its own")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl"), "needs openssl to make a test CA"))
    func httpsWithAPrivateAuthorityWorksAndAnUntrustedOneIsRefused() async throws {
        let dir = NSTemporaryDirectory() + "webhook-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try makeSelfSignedCertificate(in: dir)
        let tls = TLSConfiguration.makeServerConfiguration(certificateChain: try NIOSSLCertificate.fromPEMFile(dir + "/cert.pem").map { .certificate($0) },
                                                           privateKey: .privateKey(try NIOSSLPrivateKey(file: dir + "/key.pem", format: .pem)))
        let server = try await WebhookTestServer.start(tls: tls)
        let target = try WebhookTarget.parse("https://localhost:\(server.port)/hook")

        try await withPoster(trusting: dir + "/cert.pem") { trusting in
            let status = try await trusting.post(Data("{}".utf8), to: target, timeout: 5)
            #expect(status == 200)
        }
        try await withPoster { systemOnly in
            await #expect(throws: (any Error).self) { _ = try await systemOnly.post(Data("{}".utf8), to: target, timeout: 5) }
        }
        await server.close()
        #expect(server.requests == 1)
    }

    @Test func anUnreadableAuthorityFileIsAConfigurationError() {
        #expect(throws: ConfigError.self) { _ = try HTTPWebhookPoster(group: MultiThreadedEventLoopGroup.singleton, trustedCertificatesFile: "/nonexistent.pem") }
    }

    /// A poster that is shut down however `body` ends (AsyncHTTPClient insists, in debug builds).
    private func withPoster(trusting file: String? = nil, _ body: (HTTPWebhookPoster) async throws -> Void) async throws {
        let poster = try HTTPWebhookPoster(group: MultiThreadedEventLoopGroup.singleton, trustedCertificatesFile: file)
        do { try await body(poster) } catch { await poster.shutdown(); throw error }
        await poster.shutdown()
    }

    private func makeSelfSignedCertificate(in dir: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
                       "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
                       "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw FixtureError("openssl could not make a certificate (status \(p.terminationStatus))") }
    }
}

/// An HTTP/1.1 receiver that answers 200 with keep-alive and counts connections and requests.
final class WebhookTestServer: Sendable {
    private let channel: Channel
    private let counts: Locked<(connections: Int, requests: Int)>
    var port: Int { channel.localAddress?.port ?? 0 }
    var connections: Int { counts.value.connections }
    var requests: Int { counts.value.requests }

    private init(channel: Channel, counts: Locked<(connections: Int, requests: Int)>) { self.channel = channel; self.counts = counts }

    static func start(tls: TLSConfiguration?) async throws -> WebhookTestServer {
        let counts = Locked((connections: 0, requests: 0))
        let context = try tls.map { try NIOSSLContext(configuration: $0) }
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    counts.withLock { $0.connections += 1 }
                    if let context { try ch.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                    try ch.pipeline.syncOperations.configureHTTPServerPipeline()
                    try ch.pipeline.syncOperations.addHandler(Answer(counts: counts))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return WebhookTestServer(channel: channel, counts: counts)
    }

    func close() async { try? await channel.close() }

    final class Answer: ChannelInboundHandler, Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let counts: Locked<(connections: Int, requests: Int)>
        init(counts: Locked<(connections: Int, requests: Int)>) { self.counts = counts }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            counts.withLock { $0.requests += 1 }
            var head = HTTPResponseHead(version: .http1_1, status: .ok)
            head.headers.add(name: "Content-Length", value: "2")
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
