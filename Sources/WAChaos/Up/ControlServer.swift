import Foundation
import Hummingbird
import Logging
import NIOCore
import WACore

/// What the control API drives: a running session (`UpSession`) or, in tests, a fake.
public protocol SessionControl: Sendable {
    func status() async -> SessionStatus
    func links() -> [LinkStatus]
    /// The cluster's own `GET /v1/health` answer.
    func health() async throws -> JSONValue
    /// Runs one step (scenario syntax, YAML or JSON) and answers what it did.
    func step(_ text: String) async throws -> StepAnswer
    /// The scenario recorded so far.
    func recording() -> String
    /// Writes a support bundle; answers its path.
    func supportBundle() async throws -> String
    /// Ends the session: nodes stopped, reports written.
    func stop()
}

/// One link of the proxy mesh and the fault on it.
public struct LinkStatus: Codable, Sendable, Equatable {
    public var from: String
    public var to: String
    public var port: Int
    public var fault: String?
    public init(from: String, to: String, port: Int, fault: String?) { self.from = from; self.to = to; self.port = port; self.fault = fault }
}

/// The control API's routes; every call needs `Authorization: Bearer TOKEN`.
public enum ControlRoutes {
    /// Steps come as text; anything longer is not a step.
    public static let bodyLimit = 64 * 1024

    public static func router(_ control: any SessionControl, token: String) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: ControlGuard(token: token))
        router.get("/v1/status") { _, _ in json(await control.status()) }
        router.get("/v1/nodes") { _, _ in json(await control.status().nodes) }
        router.get("/v1/links") { _, _ in json(control.links()) }
        router.get("/v1/health") { _, _ in
            do { return raw(try await control.health()) }
            catch { throw ControlError(.stepFailed, "the cluster's health did not answer: \(error)") }
        }
        router.get("/v1/recording") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: ByteBuffer(string: control.recording())))
        }
        router.post("/v1/steps") { request, _ in
            let text = try await body(request)
            return json(try await control.step(text))
        }
        // Shorthands for the common calls, each the step it names.
        router.post("/v1/heal") { _, _ in json(try await control.step("heal: all")) }
        router.post("/v1/workload") { request, _ in
            let text = try await body(request)
            // A bare rate is the common call: `curl -d 20 …/v1/workload`.
            return json(try await control.step("workload: " + (Double(text) != nil ? "{messages_per_second: \(text)}" : text)))
        }
        router.delete("/v1/workload") { _, _ in json(try await control.step("workload: stop")) }
        router.post("/v1/support-bundle") { _, _ in json(["path": try await control.supportBundle()]) }
        router.post("/v1/stop") { _, _ in
            control.stop()
            return json(["stopping": true])
        }
        return router
    }

    static func body(_ request: Request) async throws -> String {
        let buffer: ByteBuffer
        do { buffer = try await request.body.collect(upTo: bodyLimit) }
        catch { throw ControlError(.badRequest, "the body is larger than \(bodyLimit) bytes; send one step") }
        let text = String(buffer: buffer).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw ControlError(.badRequest, "the body is empty; send one step, e.g. `kill: wacore1` or {\"heal\": \"all\"}") }
        return text
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        raw((try? JSONCodec.encode(value)) ?? .object([:]), status: status)
    }

    static func raw(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        var data = JSONCodec.prettyData(value)
        data.append(0x0A)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    static func error(_ e: ControlError) -> Response {
        json(["error": ["code": e.code.rawValue, "message": e.message]], status: HTTPResponse.Status(code: e.status))
    }
}

/// The token check, and every failure in the control API's error shape.
struct ControlGuard<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let given = request.headers[.authorization] ?? ""
        guard Self.same(given, "Bearer \(token)") else {
            return ControlRoutes.error(ControlError(.unauthorized, given.isEmpty
                ? "no Authorization header; send `Authorization: Bearer TOKEN` with the token `wachaos up` printed (also in session.json)"
                : "wrong token; use the one `wachaos up` printed (also in session.json)"))
        }
        do {
            return try await next(request, context)
        } catch let e as ControlError {
            return ControlRoutes.error(e)
        } catch let e as HTTPError where e.status == .notFound {
            return ControlRoutes.error(ControlError(.notFound, "no such control call: \(request.method) \(request.uri.path); see `wachaos fault --help`"))
        } catch let e as HTTPError {
            return ControlRoutes.error(ControlError(.badRequest, e.body ?? "\(e.status)"))
        } catch {
            return ControlRoutes.error(ControlError(.stepFailed, "\(error)"))
        }
    }

    /// Constant-time comparison: the time a wrong token takes says nothing about the right one.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// The control API bound to loopback and to a unix socket.
public enum ControlServer {
    /// Both listeners; `ready` gets the TCP port once it is bound.
    public static func serve(_ control: any SessionControl, token: String, port: Int, socket: String,
                             ready: @escaping @Sendable (Int) -> Void,
                             unavailable: @escaping @Sendable (String) -> Void = { _ in }) async throws {
        var quiet = Logger(label: "wachaos-control")
        // Hummingbird logs the cancellation that ends a session as errors.
        quiet.logLevel = .critical
        // A socket file a SIGKILLed session left would refuse the bind.
        try? FileManager.default.removeItem(atPath: socket)
        let tcp = Application(router: ControlRoutes.router(control, token: token),
                              configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "wachaos-control"),
                              onServerRunning: { ch in ready(ch.localAddress?.port ?? 0) }, logger: quiet)
        let unix = Application(router: ControlRoutes.router(control, token: token),
                               configuration: .init(address: .unixDomainSocket(path: socket), serverName: "wachaos-control"),
                               onServerRunning: { _ in chmod(socket, 0o600) }, logger: quiet)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await tcp.runService(gracefulShutdownSignals: []) }
            // The socket is a convenience: if it cannot be bound, loopback TCP still serves.
            group.addTask {
                do { try await unix.runService(gracefulShutdownSignals: []) }
                catch where !(error is CancellationError) { unavailable("\(socket): \(error)") }
            }
            try await group.waitForAll()
        }
    }
}
