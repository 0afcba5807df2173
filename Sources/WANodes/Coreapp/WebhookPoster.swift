import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import WACore

/// Delivers one webhook POST and answers the HTTP status: over the network in a node, a fake in
/// the shells' tests (which then see the retry schedule without sockets or sleeps).
public protocol WebhookPoster: Sendable {
    /// `timeout` is in real seconds and covers the whole request.
    func post(_ body: Data, to target: WebhookTarget, timeout: Double) async throws -> Int
    /// Closes pooled connections; the node calls it once, when it stops.
    func shutdown() async
}

extension WebhookPoster {
    public func shutdown() async {}
}

/// The coreapp's poster: AsyncHTTPClient, so connections to the webhook are kept and reused
/// (instead of one per POST), `https://` URLs work (system trust roots, plus the PEM bundle in
/// `WA_WEBHOOK_CA_FILE` when set), redirects are not followed, and an answer's body is read
/// up to `responseBodyLimit` only.
public final class HTTPWebhookPoster: WebhookPoster {
    public static let responseBodyLimit = 64 * 1024
    private let client: HTTPClient

    public init(group: EventLoopGroup, trustedCertificatesFile: String? = nil) throws {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let file = trustedCertificatesFile {
            do { tls.additionalTrustRoots = [.certificates(try NIOSSLCertificate.fromPEMFile(file))] }
            catch { throw ConfigError(.invalidValue, variable: "WA_WEBHOOK_CA_FILE", detail: "cannot read PEM certificates from \(file): \(error)") }
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow,
                                                     timeout: .init(connect: .seconds(5), read: .seconds(30)))
        configuration.connectionPool = .init(idleTimeout: .seconds(60))
        configuration.decompression = .disabled
        client = HTTPClient(eventLoopGroupProvider: .shared(group), configuration: configuration)
    }

    public func post(_ body: Data, to target: WebhookTarget, timeout: Double) async throws -> Int {
        var request = HTTPClientRequest(url: target.url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "wa-ha-cluster/\(NodeRuntime.version)")
        request.body = .bytes(ByteBuffer(data: body))
        let response = try await client.execute(request, timeout: .nanoseconds(Int64(max(0.001, timeout) * 1e9)))
        // The status is the answer; the body is drained (so the connection can be reused) up to a limit.
        do { _ = try await response.body.collect(upTo: Self.responseBodyLimit) }
        catch is NIOTooManyBytesError {}
        return Int(response.status.code)
    }

    public func shutdown() async { try? await client.shutdown() }
}

/// The poster of nodes that never deliver webhooks (masters, webapps).
public struct NoWebhookPoster: WebhookPoster {
    public init() {}
    public func post(_ body: Data, to target: WebhookTarget, timeout: Double) async throws -> Int {
        throw APIError(.serviceNotReady, "this node does not deliver webhooks", status: 503)
    }
}
