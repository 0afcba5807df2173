import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import WACore
import WANodes
import WAStore
import WAWire

/// The REST API of the webapp node.
final class WebappAPI: Sendable {
    let rt: NodeRuntime
    let shardRoutes: ShardRoutes
    let tokenCache = TokenCache()
    let loginThrottle = Locked(LoginThrottle())
    let passwords = PasswordWork()
    let lastNodes = Locked<(nodes: [NodeRecord], readAt: LogicalInstant)?>(nil)
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
        let now = rt.unixSeconds
        if let cached = tokenCache.user(forToken: token, now: now) { return cached }
        let hash = Digests.sha256Hex(token)
        let record: TokenRecord?
        do { record = try await rt.store.token(hash: hash) }
        catch let e as StoreError where e.isUnavailability {
            throw APIError(.serviceNotReady, "the token cannot be checked: the database is unreachable (\(e.message)); retry", status: 503)
        }
        catch let e as StoreError { throw APIError.database(e) }
        catch { throw APIError.database("cannot check the token: \(error)") }
        if let record, record.expiresAt > now { tokenCache.remember(token: token, user: record.username, expires: record.expiresAt, now: now) }
        guard let record, record.expiresAt > now else {
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

    /// `POST /v1/users/login`. Throttled per (user, source) and per source before any password
    /// work; the password check costs one PBKDF2 run whether or not the user exists; a new
    /// password revokes every token the user had.
    func login(_ request: Request, source: String) async throws -> Response {
        try requireSchema()
        guard let (name, password) = Self.basicCredentials(request.headers[.authorization]) else {
            throw APIError(.accessDenied, "log in with HTTP Basic auth (username and password)", status: 401)
        }
        let now = MonotonicTime.seconds()
        if let wait = loginThrottle.withLock({ $0.wait(user: name, source: source, now: now) }) {
            let seconds = Int(wait.rounded(.up))
            var r = APIResponse.error(APIError(.tooManyRequests, "too many failed logins for \(name) from \(source); retry in \(seconds) s", status: 429))
            r.headers[.retryAfter] = "\(seconds)"
            return r
        }
        let body = try await RequestBody.object(request, allowEmpty: true)
        try RequestBody.onlyKnown(body, ["new_password"])
        let newPassword = try RequestBody.string(body, "new_password", required: false)
        let found = try await rt.store.user(name)
        let verdict = try await passwords.run {
            guard let found else { Credentials.burnOneVerification(); return Credentials.Verification(matches: false, needsUpgrade: false) }
            return Credentials.verify(password, stored: found.passwordHash, legacySalt: found.salt)
        }
        guard var user = found, verdict.matches else {
            loginThrottle.withLock { $0.failed(user: name, source: source, now: MonotonicTime.seconds()) }
            throw APIError(.accessDenied, "invalid username or password", status: 401)
        }
        loginThrottle.withLock { $0.succeeded(user: name, source: source) }
        if let newPassword {
            if let problem = Credentials.passwordProblem(newPassword) { throw APIError.invalid("new_password", problem) }
            user.passwordHash = try await passwords.run { Credentials.hashPassword(newPassword) }
            user.salt = ""
            user.mustChangePassword = false
            try await rt.store.saveUser(user)
            // A new password ends every session the old one opened.
            try await rt.store.deleteTokens(of: user.username)
            tokenCache.drop(user: user.username)
            rt.logger.event("password_changed", "password of \(user.username) changed; its tokens are revoked", ["user": user.username])
        } else if user.mustChangePassword {
            throw APIError(.passwordChangeRequired, "first login: send {\"new_password\": \"…\"} (8–64 characters with a digit, an upper, a lower and a special character)", status: 403)
        } else if verdict.needsUpgrade {
            user.passwordHash = try await passwords.run { Credentials.hashPassword(password) }
            user.salt = ""
            try await rt.store.saveUser(user)
        }
        let token = Credentials.randomHex(bytes: 32)
        let expires = rt.unixSeconds + 7 * 86_400
        try await rt.store.saveToken(TokenRecord(tokenHash: Digests.sha256Hex(token), username: user.username, expiresAt: expires))
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
        let nodes = try await knownNodes().filter {
            ($0.role == .master || $0.role == .coreapp) && now - $0.heartbeatAt <= rt.timings.dbUnhealthyAfter
        }
        let timeout = rt.real(rt.timings.healthTimeout, floor: 0.3)
        return await withTaskGroup(of: (String, JSONValue).self) { group in
            for node in nodes {
                let peers = rt.peers
                group.addTask {
                    do { return (node.healthKey, try entry(try await peers.call(M.self, Empty(), on: node.rpcAddress, timeout: timeout))) }
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

    /// The nodes in the database; while it cannot be read, the nodes as last read, aged no
    /// further (nobody can write a heartbeat row meanwhile; the nodes answer for themselves over
    /// RPC). A webapp that never read the list answers the database's error.
    func knownNodes() async throws -> [NodeRecord] {
        do {
            let nodes = try await rt.store.nodes()
            let at = rt.clock.now
            lastNodes.withLock { $0 = (nodes, at) }
            return nodes
        } catch let e as StoreError where e.isUnavailability {
            guard let (nodes, readAt) = lastNodes.value else { throw e }
            let frozen = rt.clock.now - readAt
            return nodes.map { var n = $0; n.heartbeatAt = n.heartbeatAt + frozen; return n }
        }
    }

    static func reason(_ error: Error, timeout: Double) -> String {
        if let e = error as? RPCError {
            switch e.kind {
            case .timeout: return String(format: "no health answer within %.1fs", timeout)
            case .unreachable: return "connection refused or unreachable"
            case .closed: return "connection closed before the answer"
            case .malformed: return "malformed answer"
            case .refused: return "refused the connection: \(e.detail)"
            }
        }
        return "\(error)"
    }

    // MARK: account (forwarded to the primary master)

    /// The primary master's RPC address, by the master lease.
    func primaryMaster() async throws(APIError) -> HostPort {
        do {
            let lease = try await rt.store.masterLease()
            guard let holder = lease.holder,
                  let node = try await rt.store.nodes().first(where: { $0.nodeID == holder }) else {
                throw APIError(.serviceNotReady, "no primary master is reachable right now; retry the request", status: 403)
            }
            return node.rpcAddress
        } catch let e as APIError { throw e }
        catch let e as StoreError { throw APIError.database(e) }
        catch { throw APIError.database("cannot read the master lease: \(error)") }
    }

    func forward<M: RPCMethod>(_ m: M.Type, _ params: M.Params) async throws -> M.Result {
        let master = try await primaryMaster()
        do { return try await rt.peers.call(m, params, on: master, timeout: rt.real(10, floor: 2)) }
        catch let e as APIError { throw e }
        catch { throw APIError(.serviceNotReady, "the primary master did not answer (\(error)); retry the request", status: 403) }
    }

    func register(_ request: Request) async throws -> Response {
        _ = try await requireAdmin(request, "register the account")
        try requireSchema()
        let body = try await RequestBody.object(request)
        try RequestBody.onlyKnown(body, ["cc", "phone_number", "method", "cert", "pin"])
        let params = NodeRPC.Register.Params(cc: try RequestBody.string(body, "cc")!, phoneNumber: try RequestBody.string(body, "phone_number")!,
                                             method: try RequestBody.string(body, "method")!, cert: try RequestBody.string(body, "cert")!,
                                             pin: try RequestBody.string(body, "pin", required: false, nullable: true))
        try params.validate()
        let r = try await forward(NodeRPC.Register.self, params)
        if r.registered { return APIResponse.empty(.created) }
        return APIResponse.json(JSONValue.object(["account": .array([.object(["vname": .string(r.vname)])])]), status: .accepted)
    }

    func verify(_ request: Request) async throws -> Response {
        _ = try await requireAdmin(request, "verify the account")
        try requireSchema()
        let body = try await RequestBody.object(request)
        try RequestBody.onlyKnown(body, ["code"])
        let code = try RequestRules.code(try RequestBody.string(body, "code")!)
        _ = try await forward(NodeRPC.Verify.self, .init(code: code))
        return APIResponse.empty(.created)
    }

    func setShards(_ request: Request) async throws -> Response {
        _ = try await requireAdmin(request, "change the shard count")
        try requireSchema()
        let body = try await RequestBody.object(request)
        try RequestBody.onlyKnown(body, ["cc", "phone_number", "shards", "pin", "cert"])
        let params = NodeRPC.SetShards.Params(cc: try RequestBody.string(body, "cc")!, phoneNumber: try RequestBody.string(body, "phone_number")!,
                                              shards: try RequestBody.int(body, "shards"), cert: try RequestBody.string(body, "cert", required: false, nullable: true),
                                              pin: try RequestBody.string(body, "pin", required: false, nullable: true))
        try params.validate()
        _ = try await forward(NodeRPC.SetShards.self, params)
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
        var application = try JSONCodec.encode(try await rt.store.settings().settings).objectValue ?? [:]
        // The registered number, read-only, as the product shows it.
        if let a = try await rt.store.account(), a.state != .pendingCode { application["wa_id"] = .string(a.fullNumber) }
        return APIResponse.json(JSONValue.object(["settings": .object(["application": .object(application)])]))
    }

    func patchSettings(_ request: Request) async throws -> Response {
        _ = try await requireAdmin(request, "change application settings")
        try requireSchema()
        let body = try await RequestBody.object(request)
        guard !body.isEmpty else { throw APIError(.parameterMissing, "the PATCH body names no setting; send at least one, e.g. {\"webhooks\":{\"url\":\"http://host/hook\"}}", status: 400) }
        let current = try await rt.store.settings().settings
        let next = try current.applying(patch: body)
        let version = try await rt.store.saveSettings(next)
        // This webapp acts on what it just stored (its /metrics, its callbacks check) rather than
        // a tick later, when its periodic refresh would read it.
        _ = try? await rt.refreshSettings()
        rt.logger.event("settings_changed", "application settings changed (version \(version))", ["version": "\(version)", "keys": body.keys.sorted().joined(separator: ",")])
        return APIResponse.json(["settings": ["application": next]])
    }
}

/// Valid tokens seen recently (keyed by the token, in this process's memory only), so the hot
/// path (POST /v1/messages) neither hashes nor reads the DB for every request. Entries live
/// 5 s: a deleted user's token stops working within that.
final class TokenCache: Sendable {
    private let entries = Locked<[String: (user: String, expires: Double, until: Double)]>([:])
    /// The user a bearer token (the raw token, not its hash) belongs to, if seen within 5 s.
    func user(forToken token: String, now: Double) -> String? {
        entries.withLock { entries in
            guard let e = entries[token], now < e.until, now < e.expires else { entries[token] = nil; return nil }
            return e.user
        }
    }
    func remember(token: String, user: String, expires: Double, now: Double) {
        entries.withLock { entries in
            if entries.count > 10_000 { entries.removeAll() }
            entries[token] = (user, expires, now + 5)
        }
    }
    /// Every token of `user`, whatever the case it is written in (usernames are unique regardless of case).
    func drop(user: String) { entries.withLock { entries in entries = entries.filter { $0.value.user.lowercased() != user.lowercased() } } }
}

/// Password hashing off the request threads: one thread of its own, so a burst of logins
/// costs at most one core, and at most `limit` waiting, so a flood is refused, not queued.
final class PasswordWork: Sendable {
    private let pool: NIOThreadPool
    private let waiting = AdmissionCounter(limit: 32)
    init() {
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }
    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws -> T {
        guard waiting.tryAcquire() else {
            throw APIError(.tooManyRequests, "too many logins in progress; retry in a second", status: 429)
        }
        defer { waiting.release() }
        return try await pool.runIfActive { body() }
    }
}
