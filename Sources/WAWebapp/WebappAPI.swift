import Foundation
import Hummingbird
import NIOCore
import WACore
import WANodes
import WAStore
import WAWire

/// The REST API of the webapp node.
final class WebappAPI: @unchecked Sendable {
    let rt: NodeRuntime
    let shardRoutes: ShardRoutes
    let requestMetrics = RequestMetrics()
    let tokenCache = TokenCache()
    init(runtime: NodeRuntime) { rt = runtime; shardRoutes = ShardRoutes(runtime: runtime) }

    // MARK: auth

    static func basicCredentials(_ header: String?) -> (String, String)? {
        guard let header, header.lowercased().hasPrefix("basic "),
              let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
              let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":") else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    /// Checks `Authorization: Bearer <token>` (or `Apikey <key>` where allowed); returns the user.
    func authenticate(_ request: Request, allowAPIKey: Bool = false) async throws(APIError) -> String {
        guard let header = request.headers[.authorization] else {
            throw APIError(.accessDenied, "Authorization header is missing; log in with POST /v1/users/login and send 'Authorization: Bearer <token>'", status: 401)
        }
        if allowAPIKey, header.lowercased().hasPrefix("apikey ") {
            guard let key = rt.config.apiKey, String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces) == key else {
                throw APIError(.accessDenied, "invalid API key", status: 401)
            }
            return "apikey"
        }
        guard header.lowercased().hasPrefix("bearer ") else {
            throw APIError(.accessDenied, "expected 'Authorization: Bearer <token>'", status: 401)
        }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        if let cached = tokenCache.get(token, now: Date().timeIntervalSince1970) { return cached }
        let hash = SHA256.hex(token)
        let record: TokenRecord?
        do { record = try await rt.store.token(hash: hash) }
        catch let e as StoreError where e.isUnavailability {
            throw APIError(.serviceNotReady, "the token cannot be checked: the database is unreachable (\(e.message)); retry", status: 503)
        }
        catch let e as StoreError { throw APIError.database(e) }
        catch { throw APIError.database("cannot check the token: \(error)") }
        if let record, record.expiresAt > Date().timeIntervalSince1970 { tokenCache.put(token, user: record.username, expires: record.expiresAt) }
        guard let record, record.expiresAt > Date().timeIntervalSince1970 else {
            throw APIError(.accessDenied, "invalid or expired token; log in again", status: 401)
        }
        return record.username
    }

    func requireSchema() throws(APIError) {
        guard rt.isSchemaReady else {
            if let problem = rt.databaseUnavailable { throw APIError.notReady("the database cannot be reached: \(problem); retry") }
            throw APIError.notReady("the database schema is not initialized yet; start a master or run `wacluster dbupgrade`")
        }
    }

    // MARK: users

    func login(_ request: Request) async throws -> Response {
        try requireSchema()
        guard let (name, password) = Self.basicCredentials(request.headers[.authorization]) else {
            throw APIError(.accessDenied, "log in with HTTP Basic auth (username and password)", status: 401)
        }
        let body = try await RequestBody.object(request, allowEmpty: true)
        try RequestBody.onlyKnown(body, ["new_password"])
        let newPassword = try RequestBody.string(body, "new_password", required: false)
        guard var user = try await rt.store.user(name),
              Credentials.hashPassword(password, salt: user.salt) == user.passwordHash else {
            throw APIError(.accessDenied, "invalid username or password", status: 401)
        }
        if let newPassword {
            if let problem = Credentials.passwordProblem(newPassword) { throw APIError.invalid("new_password", problem) }
            user.salt = Credentials.randomHex(bytes: 8)
            user.passwordHash = Credentials.hashPassword(newPassword, salt: user.salt)
            user.mustChangePassword = false
            try await rt.store.saveUser(user)
        } else if user.mustChangePassword {
            throw APIError(.passwordChangeRequired, "first login: send {\"new_password\": \"…\"} (8–64 characters with a digit, an upper, a lower and a special character)", status: 403)
        }
        let token = Credentials.randomHex(bytes: 32)
        let expires = Date().timeIntervalSince1970 + 7 * 86_400
        try await rt.store.saveToken(TokenRecord(tokenHash: SHA256.hex(token), username: name, expiresAt: expires))
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = TimeZone(identifier: "UTC"); f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        let expiresText = f.string(from: Date(timeIntervalSince1970: expires)) + "+00:00"
        return APIResponse.json(JSONValue.object(["users": .array([.object(["token": .string(token), "expires_after": .string(expiresText)])])]))
    }

    // MARK: health

    func health(_ request: Request) async throws -> Response {
        _ = try await authenticate(request, allowAPIKey: true)
        guard rt.isSchemaReady else {
            return APIResponse.json(JSONValue.object(["health": .object([rt.healthKey: HealthEntry.status("uninitialized", role: "webapp")])]))
        }
        let entries = try await askEveryNode(NodeRPC.Health.self) { $0 }
        return APIResponse.json(JSONValue.object(["health": .object(entries)]))
    }

    /// Asks every master and coreapp that DB-heartbeated within the DB unhealthy window, in
    /// parallel, each within the health timeout; a silent node gets the 1011 "unreachable" entry.
    /// Keys are `hostname:nodeid`.
    func askEveryNode<M: RPCMethod>(_ method: M.Type, _ entry: @escaping @Sendable (M.Result) throws -> JSONValue) async throws
        -> [String: JSONValue] where M.Params == Empty {
        let now = rt.clock.now
        let nodes = try await rt.store.nodes().filter {
            ($0.role == .master || $0.role == .coreapp) && now - $0.heartbeatAt <= rt.timings.dbUnhealthyAfter
        }
        let timeout = rt.real(rt.timings.healthTimeout, floor: 0.3)
        return await withTaskGroup(of: (String, JSONValue).self) { group in
            for node in nodes {
                let client = rt.peers.client(for: node.rpcAddress)
                group.addTask {
                    do { return (node.healthKey, try entry(try await client.call(M.self, Empty(), timeout: timeout))) }
                    catch {
                        return (node.healthKey, HealthEntry.error(APIError(.serviceNotReady,
                            "Node \(node.hostname) is unreachable: \(Self.reason(error, timeout: timeout))", status: 503)))
                    }
                }
            }
            var out: [String: JSONValue] = [:]
            for await (k, v) in group { out[k] = v }
            return out
        }
    }

    static func reason(_ error: Error, timeout: Double) -> String {
        if let e = error as? RPCError {
            switch e.kind {
            case .timeout: return String(format: "no health answer within %.1fs", timeout)
            case .unreachable: return "connection refused or unreachable"
            case .closed: return "connection closed before the answer"
            case .malformed: return "malformed answer"
            }
        }
        return "\(error)"
    }

    // MARK: account (forwarded to the primary master)

    func primaryMaster() async throws(APIError) -> RPCClient {
        do {
            let lease = try await rt.store.masterLease()
            guard let holder = lease.holder,
                  let node = try await rt.store.nodes().first(where: { $0.nodeID == holder }) else {
                throw APIError(.serviceNotReady, "no primary master is reachable right now; retry the request", status: 403)
            }
            return rt.peers.client(for: node.rpcAddress)
        } catch let e as APIError { throw e }
        catch let e as StoreError { throw APIError.database(e) }
        catch { throw APIError.database("cannot read the master lease: \(error)") }
    }

    func forward<M: RPCMethod>(_ m: M.Type, _ params: M.Params) async throws -> M.Result {
        let client = try await primaryMaster()
        do { return try await client.call(m, params, timeout: rt.real(10, floor: 2)) }
        catch let e as APIError { throw e }
        catch { throw APIError(.serviceNotReady, "the primary master did not answer (\(error)); retry the request", status: 403) }
    }

    func register(_ request: Request) async throws -> Response {
        _ = try await authenticate(request)
        try requireSchema()
        let body = try await RequestBody.object(request)
        try RequestBody.onlyKnown(body, ["cc", "phone_number", "method", "cert", "pin"])
        let cc = try RequestBody.string(body, "cc")!, phone = try RequestBody.string(body, "phone_number")!
        let method = try RequestBody.string(body, "method")!
        guard method == "sms" || method == "voice" else { throw APIError.invalid("method", "must be \"sms\" or \"voice\"") }
        let cert = try RequestBody.string(body, "cert")!
        let pin = try RequestBody.string(body, "pin", required: false)
        try Self.checkNumber(cc: cc, phone: phone, pin: pin)
        let r = try await forward(NodeRPC.Register.self, .init(cc: cc, phoneNumber: phone, method: method, cert: cert, pin: pin))
        if r.registered { return APIResponse.empty(.created) }
        return APIResponse.json(JSONValue.object(["account": .array([.object(["vname": .string(r.vname)])])]), status: .accepted)
    }

    static func checkNumber(cc: String, phone: String, pin: String?) throws(APIError) {
        guard (1...3).contains(cc.count), cc.allSatisfy(\.isNumber) else { throw APIError.invalid("cc", "a country code of 1 to 3 digits, e.g. \"1\"") }
        guard (4...15).contains(phone.count), phone.allSatisfy(\.isNumber) else {
            throw APIError.invalid("phone_number", "digits only, without the country code or '+'")
        }
        if let pin, !(pin.count == 6 && pin.allSatisfy(\.isNumber)) { throw APIError.invalid("pin", "a 6-digit PIN") }
    }

    func verify(_ request: Request) async throws -> Response {
        _ = try await authenticate(request)
        try requireSchema()
        let body = try await RequestBody.object(request)
        try RequestBody.onlyKnown(body, ["code"])
        let code = try RequestBody.string(body, "code")!
        guard code.filter(\.isNumber).count == 6 else { throw APIError.invalid("code", "the 6-digit code sent by SMS or voice") }
        _ = try await forward(NodeRPC.Verify.self, .init(code: code.filter(\.isNumber)))
        return APIResponse.empty(.created)
    }

    func setShards(_ request: Request) async throws -> Response {
        _ = try await authenticate(request)
        try requireSchema()
        let body = try await RequestBody.object(request)
        try RequestBody.onlyKnown(body, ["cc", "phone_number", "shards", "pin", "cert"])
        let cc = try RequestBody.string(body, "cc")!, phone = try RequestBody.string(body, "phone_number")!
        let shards = try RequestBody.int(body, "shards")
        guard ShardRouter.validShardCounts.contains(shards) else {
            throw APIError.invalid("shards", "must be one of 1, 2, 4, 8, 16, 32, got \(shards)")
        }
        let cert = try RequestBody.string(body, "cert")!
        let pin = try RequestBody.string(body, "pin", required: false)
        try Self.checkNumber(cc: cc, phone: phone, pin: pin)
        _ = try await forward(NodeRPC.SetShards.self, .init(cc: cc, phoneNumber: phone, shards: shards, cert: cert, pin: pin))
        return APIResponse.empty(.created)
    }

    func getShards(_ request: Request) async throws -> Response {
        _ = try await authenticate(request)
        try requireSchema()
        let shards = try await rt.store.account()?.shards ?? 1
        return APIResponse.json(JSONValue.object(["account": .object(["shards": .number(Double(shards))])]))
    }

    // MARK: settings

    func getSettings(_ request: Request) async throws -> Response {
        _ = try await authenticate(request)
        try requireSchema()
        let s = try await rt.store.settings().settings
        return APIResponse.json(["settings": ["application": s]])
    }

    func patchSettings(_ request: Request) async throws -> Response {
        _ = try await authenticate(request)
        try requireSchema()
        let body = try await RequestBody.object(request)
        let current = try await rt.store.settings().settings
        let next = try current.applying(patch: body)
        let version = try await rt.store.saveSettings(next)
        rt.logger.event("settings_changed", "application settings changed (version \(version))", ["version": "\(version)", "keys": body.keys.sorted().joined(separator: ",")])
        return APIResponse.json(["settings": ["application": next]])
    }
}

/// Valid tokens seen recently (keyed by the token, in this process's memory only), so the hot
/// path (POST /v1/messages) neither hashes nor reads the DB for every request. Entries live
/// 5 s: a deleted user's token stops working within that.
final class TokenCache: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [String: (user: String, expires: Double, until: Double)] = [:]
    func get(_ hash: String, now: Double) -> String? {
        lock.withLock {
            guard let e = entries[hash], now < e.until, now < e.expires else { entries[hash] = nil; return nil }
            return e.user
        }
    }
    func put(_ hash: String, user: String, expires: Double) {
        lock.withLock {
            if entries.count > 10_000 { entries.removeAll() }
            entries[hash] = (user, expires, Date().timeIntervalSince1970 + 5)
        }
    }
    func drop(user: String) { lock.withLock { entries = entries.filter { $0.value.user != user } } }
}
