import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import WACore
import WANodes
import WAStore

/// Turns every thrown problem into the product's error shape: API errors as they are,
/// unknown routes 404 and known routes with the wrong method 405, anything else 500/1014.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let knownPaths: [String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as APIError {
            return APIResponse.error(e)
        } catch let e as StoreError {
            return APIResponse.error(APIError.database(e))
        } catch let e as HTTPError where e.status == .notFound {
            let path = request.uri.path
            // A literal route wins over a parameterised one, as in the router: /v1/users/login is not /v1/users/{username}.
            let matching = WebappRoutes.all.filter { Self.matches(pattern: WebappRoutes.routerPath($0.path), path: path) }
            let literal = matching.filter { !$0.path.contains("{") }
            let allowed = (literal.isEmpty ? matching : literal).map(\.method)
            if !allowed.isEmpty {
                var r = APIResponse.error(APIError(.invalidRequest, "method \(request.method) is not allowed on \(path); allowed: \(allowed.joined(separator: ", "))", status: 405))
                r.headers[.allow] = allowed.joined(separator: ", ")
                return r
            }
            return APIResponse.error(APIError(.notFound, "no such endpoint: \(request.method) \(path)", status: 404))
        } catch let e as HTTPError {
            return APIResponse.error(APIError(.invalidRequest, e.body ?? "\(e.status)", status: Int(e.status.code)))
        } catch {
            return APIResponse.error(APIError(.internalError, "\(error)", status: 500))
        }
    }

    static func matches(pattern: String, path: String) -> Bool {
        let p = pattern.split(separator: "/"), q = path.split(separator: "/")
        guard p.count == q.count else { return false }
        return zip(p, q).allSatisfy { $0.hasPrefix(":") || $0 == $1 }
    }
}

/// A request's context: Hummingbird's, plus the peer address (login throttling is per source).
public struct WebappRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let source: String
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        self.source = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}

/// Builds the webapp: every route of `WebappRoutes.all`, bound to `WEBAPP_EXTERNAL_PORTS`.
public func buildWebapp(runtime rt: NodeRuntime, port: Int? = nil, limits: HTTPConnectionLimits? = nil) -> some ApplicationProtocol {
    let api = WebappAPI(runtime: rt)
    typealias Handler = @Sendable (Request, WebappRequestContext) async throws -> Response
    let handlers: [String: Handler] = [
        "POST /v1/users/login": { req, ctx in try await api.login(req, source: ctx.source) },
        "POST /v1/users": { req, _ in try await api.createUser(req) },
        "DELETE /v1/users/{username}": { req, ctx in try await api.deleteUser(req, name: ctx.parameters.get("username") ?? "") },
        "GET /v1/health": { req, _ in try await api.health(req) },
        "POST /v1/account": { req, _ in try await api.register(req) },
        "POST /v1/account/verify": { req, _ in try await api.verify(req) },
        "POST /v1/account/shards": { req, _ in try await api.setShards(req) },
        "GET /v1/account/shards": { req, _ in try await api.getShards(req) },
        "GET /v1/settings/application": { req, _ in try await api.getSettings(req) },
        "PATCH /v1/settings/application": { req, _ in try await api.patchSettings(req) },
        "POST /v1/messages": { req, _ in try await api.sendMessage(req) },
        "POST /v1/contacts": { req, _ in try await api.checkContacts(req) },
        "POST /v1/settings/backup": { req, _ in try await api.backup(req) },
        "POST /v1/settings/restore": { req, _ in try await api.restore(req) },
        "GET /v1/settings/profile/about": { req, _ in try await api.getAbout(req) },
        "PATCH /v1/settings/profile/about": { req, _ in try await api.setAbout(req) },
        "GET /v1/settings/profile/photo": { req, _ in try await api.getPhoto(req) },
        "POST /v1/settings/profile/photo": { req, _ in try await api.setPhoto(req) },
        "GET /v1/settings/business/profile": { req, _ in try await api.getBusinessProfile(req) },
        "POST /v1/settings/business/profile": { req, _ in try await api.setBusinessProfile(req) },
        "GET /v1/support": { req, _ in try await api.support(req) },
        "GET /v1/stats/db": { req, _ in try await api.statsDB(req) },
        "GET /metrics": { req, _ in try await api.metrics(req) },
        "GET /v1/openapi.json": { _, _ in OpenAPIDocument.response() },
    ]
    let router = Router(context: WebappRequestContext.self)
    WebappMetrics.bootstrap()
    // Outermost, so it sees the status the error middleware answers with.
    router.add(middleware: MetricsMiddleware())
    router.add(middleware: APIErrorMiddleware(knownPaths: WebappRoutes.all.map { WebappRoutes.routerPath($0.path) }))
    for route in WebappRoutes.all {
        guard let handler = handlers["\(route.method) \(route.path)"] else {
            preconditionFailure("WebappRoutes lists \(route.method) \(route.path) but the webapp has no handler for it")
        }
        router.on(RouterPath(WebappRoutes.routerPath(route.path)), method: HTTPRequest.Method(route.method)!, use: handler)
    }
    let limits = limits ?? HTTPConnectionLimits(requestTimeout: rt.config.httpRequestTimeout, maxConnections: rt.config.webappMaxConnections)
    let counter = AdmissionCounter(limit: limits.maxConnections)
    var quiet = Logger(label: "hummingbird")
    quiet.logLevel = .warning
    return Application(router: router,
                       server: .http1(configuration: .init(additionalChannelHandlers: [ConnectionGuardHandler(limits: limits, counter: counter)])),
                       configuration: .init(address: .hostname(rt.config.bindAddress, port: port ?? rt.config.webappPort), serverName: "wacluster-webapp",
                                            // A restarted webapp binds at once although its previous process's
                                            // connections linger (FIN_WAIT_2); a live listener still refuses it.
                                            reuseAddress: true),
                       onServerRunning: { ch in
                           rt.logger.event("node_started", "webapp \(rt.healthKey) listening on \(ch.localAddress?.port ?? 0)",
                                           ["role": "webapp", "node_id": rt.nodeID, "port": "\(ch.localAddress?.port ?? 0)",
                                            "version": NodeRuntime.version, "schema_version": "\(ClusterSchema.version)"])
                       },
                       logger: quiet)
}

/// The committed OpenAPI document, served as it is.
enum OpenAPIDocument {
    static let data: Data? = Bundle.module.url(forResource: "openapi", withExtension: "json").flatMap { try? Data(contentsOf: $0) }
    static func response() -> Response {
        guard let data else { return APIResponse.error(APIError(.internalError, "the OpenAPI document is missing from this build", status: 500)) }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data)))
    }
}

/// Keeps the webapp's view of the schema and settings current.
public struct WebappUpkeep: Service {
    let rt: NodeRuntime
    public init(runtime: NodeRuntime) { rt = runtime }
    public func run() async throws {
        do { try await cancelWhenGracefulShutdown { [rt] in try await rt.waitForSchema() } }
        catch is CancellationError { return }
        await cancelWhenGracefulShutdown { [rt] in await rt.learnClusterSecret() }
        let rt = rt
        await periodic(every: rt.timings.tick, clock: rt.clock) {
            do { try await rt.refreshSettings(); rt.noteDatabase(nil) } catch { rt.noteDatabase(error) }
        }
    }
}
