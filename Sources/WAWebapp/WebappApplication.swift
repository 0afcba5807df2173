import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import WACore
import WANodes

/// Turns every thrown problem into the product's error shape: API errors as they are,
/// unknown routes 404 and known routes with the wrong method 405, anything else 500/1014.
struct APIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let knownPaths: [String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as APIError {
            return APIResponse.error(e)
        } catch let e as HTTPError where e.status == .notFound {
            let path = request.uri.path
            if knownPaths.contains(where: { Self.matches(pattern: $0, path: path) }) {
                return APIResponse.error(APIError(.invalidRequest, "method \(request.method) is not allowed on \(path)", status: 405))
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

/// Builds the webapp: the router with every endpoint, bound to `WEBAPP_EXTERNAL_PORTS`.
public func buildWebapp(runtime rt: NodeRuntime, port: Int? = nil) -> some ApplicationProtocol {
    let api = WebappAPI(runtime: rt)
    let router = Router(context: BasicRequestContext.self)
    let paths = ["/v1/users/login", "/v1/health", "/v1/account", "/v1/account/verify", "/v1/account/shards", "/v1/settings/application"]
    router.add(middleware: APIErrorMiddleware(knownPaths: paths))
    router.post("/v1/users/login") { req, _ in try await api.login(req) }
    router.get("/v1/health") { req, _ in try await api.health(req) }
    router.post("/v1/account") { req, _ in try await api.register(req) }
    router.post("/v1/account/verify") { req, _ in try await api.verify(req) }
    router.post("/v1/account/shards") { req, _ in try await api.setShards(req) }
    router.get("/v1/account/shards") { req, _ in try await api.getShards(req) }
    router.get("/v1/settings/application") { req, _ in try await api.getSettings(req) }
    router.patch("/v1/settings/application") { req, _ in try await api.patchSettings(req) }
    let host = rt.config.externalHostname.hasPrefix("127.") || rt.config.externalHostname == "localhost" ? rt.config.externalHostname : "0.0.0.0"
    var quiet = Logger(label: "hummingbird")
    quiet.logLevel = .warning
    return Application(router: router,
                       configuration: .init(address: .hostname(host, port: port ?? rt.config.webappPort), serverName: "wacluster-webapp",
                                            reuseAddress: false),
                       onServerRunning: { ch in
                           rt.logger.event("node_started", "webapp \(rt.healthKey) listening on \(ch.localAddress?.port ?? 0)",
                                           ["role": "webapp", "node_id": rt.nodeID, "port": "\(ch.localAddress?.port ?? 0)"])
                       },
                       logger: quiet)
}

/// Keeps the webapp's view of the schema and settings current.
public struct WebappUpkeep: Service {
    let rt: NodeRuntime
    public init(runtime: NodeRuntime) { rt = runtime }
    public func run() async throws {
        try await cancelWhenGracefulShutdown { [rt] in try await rt.waitForSchema() }
        let rt = rt
        await periodic(every: rt.timings.tick, clock: rt.clock) { _ = try? await rt.refreshSettings() }
    }
}
