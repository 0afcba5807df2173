import Foundation
import WACore
import WACoordination

/// The storage contract in SQL, written once for every SQL engine: each operation is one
/// transaction on a connection from `source`, which reads rows, asks the shared rules
/// (`LeaseRules`, `ShardMapRules`, `SeedData`, `CallbackPayloads`) and writes their answer.
/// The engines differ only in their connection source and `SQLDialect`.
public final class SQLClusterStore: ClusterStore {
    public let source: any SQLConnectionSource
    public var engine: DatabaseEngine { source.engine }
    public var location: String { source.location }

    public init(source: any SQLConnectionSource) { self.source = source }

    /// Whether the schema has `nodes.schema_version` (5 on). Schemas only grow, so once seen it
    /// stays; until then each node write asks (a db node of this release may serve an older
    /// release's nodes on schema 4).
    private let nodesHaveSchemaColumn = Locked(false)
    func hasNodeSchemaColumn(_ c: any SQLConnection) throws -> Bool {
        if nodesHaveSchemaColumn.value { return true }
        let has = try Self.version(c) >= 5
        if has { nodesHaveSchemaColumn.withLock { $0 = true } }
        return has
    }

    /// Several statements that must see one state (the shard map with its count).
    func read<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await source.withConnection { c in try c.readTransaction { try body(c) } }
    }

    /// Reads whose statements need no common snapshot: no transaction, so PostgreSQL spends no
    /// round trips on BEGIN and COMMIT (the message path reads this way).
    func look<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await source.withConnection { c in try body(c) }
    }

    @discardableResult
    func write<T: Sendable>(_ body: @escaping @Sendable (any SQLConnection) throws -> T) async throws -> T {
        try await source.withConnection { c in try c.writeTransaction { try body(c) } }
    }

    // MARK: schema

    public func schemaVersion() async throws -> Int {
        try await look { c in try Self.version(c) }
    }

    static func version(_ c: any SQLConnection) throws -> Int {
        if try c.query(c.dialect.tableExists, [.text("schema_info")]).isEmpty { return 0 }
        return try c.scalar("SELECT MAX(version) FROM schema_info")?.int ?? 0
    }

    public func migrate(to target: Int, scripts supplied: [MigrationScript]?) async throws -> MigrationResult {
        let engine = engine
        return try await write { c in
            if let lock = c.dialect.migrationLock { try c.query(lock) }
            let own = SQLMigrations.scripts(for: c.dialect)
            var scripts = own
            if let supplied {
                guard supplied.allSatisfy({ $0.engine == engine }) else {
                    throw StoreError(.unsupported, "the migrations handed to this \(engine.rawValue) database are for another engine")
                }
                // A newer release's dbupgrade brings the migrations this server does not know.
                let newer = supplied.filter { $0.version > own.last!.version }.sorted { $0.version < $1.version }
                guard newer.enumerated().allSatisfy({ $0.element.version == own.last!.version + 1 + $0.offset }) else {
                    throw StoreError(.unsupported, "the migrations handed to this database skip a version (this server knows up to \(own.last!.version), got \(newer.map { String($0.version) }.joined(separator: ", ")))")
                }
                scripts = own + newer.map { ($0.version, $0.sql) }
            }
            let known = scripts.last!.version
            guard target <= known else {
                throw StoreError(.unsupported, "schema version \(target) was asked for, but this database server knows up to \(known); run the dbupgrade of the release that needs it")
            }
            try c.execute("CREATE TABLE IF NOT EXISTS schema_info(version INTEGER NOT NULL)")
            let from = try Self.version(c)
            if let refusal = ClusterSchema.refusal(database: from, binary: target, newestCompatible: target + 1, release: nil) { throw refusal }
            for m in scripts where m.version > from && m.version <= target {
                try c.executeScript(m.sql)
                try c.execute("INSERT INTO schema_info(version) VALUES (?)", [.int(Int64(m.version))])
            }
            let admin = SeedData.defaultAdmin()
            try c.execute("INSERT INTO users(username, password_hash, salt, must_change, is_admin) VALUES (?, ?, ?, 1, 1) ON CONFLICT DO NOTHING",
                          [.text(admin.username), .text(admin.passwordHash), .text(admin.salt)])
            try c.execute("INSERT INTO settings(id, version, body) VALUES (1, 1, ?) ON CONFLICT DO NOTHING", [.text(Self.encode(SeedData.settings))])
            return MigrationResult(from: from, to: max(from, target))
        }
    }

    // MARK: nodes

    public func upsertNode(_ n: NodeRecord) async throws {
        try await write { c in
            // Schema 4 (a release before 2.55 may still be on it while its nodes move) has no
            // schema_version column: written only where it exists.
            let withSchema = try self.hasNodeSchemaColumn(c)
            try c.execute("""
                INSERT INTO nodes(node_id, hostname, role, rpc_address, version, registered_at, heartbeat_at\(withSchema ? ", schema_version" : "")) VALUES (?,?,?,?,?,?,?\(withSchema ? ",?" : ""))
                ON CONFLICT(node_id) DO UPDATE SET hostname=excluded.hostname, role=excluded.role, rpc_address=excluded.rpc_address,
                  version=excluded.version, heartbeat_at=excluded.heartbeat_at\(withSchema ? ", schema_version=excluded.schema_version" : "")
                """, [.text(n.nodeID), .text(n.hostname), .text(n.role.rawValue), .text(n.rpcAddress.description),
                      .text(n.version), .double(n.registeredAt.seconds), .double(n.heartbeatAt.seconds)]
                      + (withSchema ? [n.schemaVersion.map { .int(Int64($0)) } ?? .null] : []))
        }
    }

    public func touchNode(_ id: String, at: LogicalInstant) async throws {
        try await write { c in try c.execute("UPDATE nodes SET heartbeat_at=? WHERE node_id=?", [.double(at.seconds), .text(id)]) }
    }

    public func removeNode(_ id: String) async throws {
        try await write { c in
            try c.execute("DELETE FROM nodes WHERE node_id=?", [.text(id)])
            try c.execute("DELETE FROM heartbeat_reports WHERE master_id=? OR coreapp_id=?", [.text(id), .text(id)])
        }
    }

    public func nodes() async throws -> [NodeRecord] {
        try await look { c in
            let withSchema = try self.hasNodeSchemaColumn(c)
            return try c.query("SELECT node_id, hostname, role, rpc_address, version, registered_at, heartbeat_at\(withSchema ? ", schema_version" : "") FROM nodes ORDER BY hostname, node_id").compactMap { r in
                guard let id = r[0].text, let role = NodeRole(rawValue: r[2].text ?? ""), let addr = HostPort(r[3].text ?? "") else { return nil }
                return NodeRecord(nodeID: id, hostname: r[1].text ?? "", role: role, rpcAddress: addr, version: r[4].text ?? "",
                                  registeredAt: .init(seconds: r[5].double ?? 0), heartbeatAt: .init(seconds: r[6].double ?? 0),
                                  schemaVersion: withSchema ? r[7].int : nil)
            }
        }
    }

    // MARK: master lease

    static func lease(_ c: any SQLConnection) throws -> LeaseRecord {
        guard let r = try c.query("SELECT holder, term, expires_at FROM master_lease WHERE id=1" + c.dialect.forUpdate).first else { return .vacant }
        return LeaseRecord(holder: r[0].text, term: r[1].int ?? 0, expiresAt: .init(seconds: r[2].double ?? 0))
    }

    static func write(_ l: LeaseRecord, _ c: any SQLConnection) throws {
        try c.execute("UPDATE master_lease SET holder=?, term=?, expires_at=? WHERE id=1",
                      [l.holder.map { .text($0) } ?? .null, .int(Int64(l.term)), .double(l.expiresAt.seconds)])
    }

    /// Whether the guard's master still holds the lease in its term, by the database's clock.
    /// The lease row stays locked until the transaction ends, so no other master can take it
    /// while the guarded write runs.
    static func holds(_ g: MasterGuard, _ c: any SQLConnection) throws -> Bool {
        let l = try lease(c)
        let now = try c.databaseNow()
        return l.holder == g.nodeID && l.term == g.term && l.expiresAt > now
    }

    public func acquireMasterLease(node: String, ttl: Double) async throws -> LeaseStatus {
        try await write { c in
            // Lock first, then read the clock: a wait for the lock must not make `now` stale.
            let current = try Self.lease(c)
            let now = try c.databaseNow()
            let next = LeaseRules.acquire(current, by: node, now: now, ttl: ttl)
            if next != current { try Self.write(next, c) }
            return LeaseStatus(lease: next, remaining: next.expiresAt - now)
        }
    }

    public func renewMasterLease(node: String, term: Int, ttl: Double) async throws -> Bool {
        try await write { c in
            let current = try Self.lease(c)
            guard let next = LeaseRules.renew(current, by: node, term: term, now: try c.databaseNow(), ttl: ttl) else { return false }
            try Self.write(next, c)
            return true
        }
    }

    public func releaseMasterLease(node: String, term: Int) async throws {
        try await write { c in
            try c.execute("UPDATE master_lease SET expires_at=0 WHERE id=1 AND holder=? AND term=?", [.text(node), .int(Int64(term))])
        }
    }

    public func masterLease() async throws -> LeaseStatus {
        try await look { c in
            let now = try c.databaseNow()
            guard let r = try c.query("SELECT holder, term, expires_at FROM master_lease WHERE id=1").first else { return LeaseStatus(lease: .vacant, remaining: 0) }
            let l = LeaseRecord(holder: r[0].text, term: r[1].int ?? 0, expiresAt: .init(seconds: r[2].double ?? 0))
            return LeaseStatus(lease: l, remaining: l.expiresAt - now)
        }
    }

    // MARK: account and shard map

    public func account() async throws -> AccountRecord? {
        try await look { c in try Self.account(c) }
    }

    static func account(_ c: any SQLConnection) throws -> AccountRecord? {
        guard let r = try c.query("SELECT cc, phone_number, vname, state, shards, registered_at FROM account WHERE id=1").first else { return nil }
        return AccountRecord(cc: r[0].text ?? "", phoneNumber: r[1].text ?? "", vname: r[2].text ?? "",
                             state: AccountRecord.State(rawValue: r[3].text ?? "") ?? .pendingCode, shards: r[4].int ?? 1,
                             registeredAt: r[5].double.map(LogicalInstant.init(seconds:)))
    }

    public func saveAccount(_ a: AccountRecord, guard g: MasterGuard) async throws -> Bool {
        try await write { c in
            guard try Self.holds(g, c) else { return false }
            try c.execute("""
                INSERT INTO account(id, cc, phone_number, vname, state, shards, registered_at) VALUES (1,?,?,?,?,?,?)
                ON CONFLICT(id) DO UPDATE SET cc=excluded.cc, phone_number=excluded.phone_number, vname=excluded.vname,
                  state=excluded.state, shards=excluded.shards, registered_at=excluded.registered_at
                """, [.text(a.cc), .text(a.phoneNumber), .text(a.vname), .text(a.state.rawValue), .int(Int64(a.shards)),
                      a.registeredAt.map { .double($0.seconds) } ?? .null])
            if a.state == .registered, try c.scalar("SELECT COUNT(*) FROM shard_map")?.int == 0 {
                try Self.resetShards(count: a.shards, c, now: try c.databaseNow())
            }
            return true
        }
    }

    static func rows(_ c: any SQLConnection, lock: Bool = false) throws -> [ShardAssignment] {
        try c.query("SELECT shard, owner, epoch, fence_until, lease_until FROM shard_map ORDER BY shard" + (lock ? c.dialect.forUpdate : "")).map(row)
    }

    static func row(_ r: [SQLValue]) -> ShardAssignment {
        ShardAssignment(shard: r[0].int ?? 0, owner: r[1].text, epoch: r[2].int ?? 0,
                        fenceUntil: .init(seconds: r[3].double ?? 0), leaseUntil: r[4].double.map { .init(seconds: $0) })
    }

    static func row(shard: Int, _ c: any SQLConnection) throws -> ShardAssignment? {
        try c.query("SELECT shard, owner, epoch, fence_until, lease_until FROM shard_map WHERE shard=?" + c.dialect.forUpdate,
                    [.int(Int64(shard))]).first.map(row)
    }

    static func update(_ r: ShardAssignment, _ c: any SQLConnection) throws {
        try c.execute("UPDATE shard_map SET owner=?, epoch=?, fence_until=?, lease_until=? WHERE shard=?",
                      [r.owner.map { .text($0) } ?? .null, .int(Int64(r.epoch)), .double(r.fenceUntil.seconds),
                       r.leaseUntil.map { .double($0.seconds) } ?? .null, .int(Int64(r.shard))])
    }

    public func shardMap() async throws -> ShardMapSnapshot {
        try await read { c in
            let now = try c.databaseNow()
            let count = try Self.account(c)?.shards ?? 1
            return ShardMapSnapshot(shardCount: count, rows: try Self.rows(c), asOf: now)
        }
    }

    static func nextEpoch(_ c: any SQLConnection) throws -> Int {
        guard let v = try c.scalar("UPDATE counters SET value = value + 1 WHERE name='shard_epoch' RETURNING value")?.int else {
            throw StoreError(.corrupt, "the shard_epoch counter is missing; the schema is incomplete")
        }
        return v
    }

    static func resetShards(count: Int, _ c: any SQLConnection, now: LogicalInstant) throws {
        let epochs = try (0..<count).map { _ in try nextEpoch(c) }
        let fresh = ShardMapRules.resized(to: count, rows: try rows(c, lock: true), now: now, epochs: epochs)
        try c.execute("DELETE FROM shard_map")
        for r in fresh {
            try c.execute("INSERT INTO shard_map(shard, owner, epoch, fence_until, lease_until) VALUES (?, NULL, ?, ?, NULL)",
                          [.int(Int64(r.shard)), .int(Int64(r.epoch)), .double(r.fenceUntil.seconds)])
        }
    }

    public func assignShard(_ shard: Int, to node: String, guard g: MasterGuard) async throws -> ShardAssignment? {
        try await write { c in
            guard try Self.holds(g, c) else { return nil }
            let rows = try Self.rows(c, lock: true)
            guard let fence = ShardMapRules.assignmentFence(shard, to: node, rows: rows, now: try c.databaseNow()) else { return nil }
            let row = ShardAssignment(shard: shard, owner: node, epoch: try Self.nextEpoch(c), fenceUntil: fence, leaseUntil: nil)
            try Self.update(row, c)
            return row
        }
    }

    public func setShardCount(_ count: Int, guard g: MasterGuard) async throws -> Bool {
        try await write { c in
            guard try Self.holds(g, c) else { return false }
            try c.execute("UPDATE account SET shards=? WHERE id=1", [.int(Int64(count))])
            try Self.resetShards(count: count, c, now: try c.databaseNow())
            return true
        }
    }

    public func acquireShardLease(shard: Int, epoch: Int, node: String, ttl: Double) async throws -> ShardLeaseAnswer {
        try await write { c in
            guard let current = try Self.row(shard: shard, c) else { return .refused }
            let (next, answer) = ShardMapRules.acquireLease(current, epoch: epoch, node: node, now: try c.databaseNow(), ttl: ttl)
            if let next { try Self.update(next, c) }
            return answer
        }
    }

    public func renewShardLease(shard: Int, epoch: Int, node: String, ttl: Double) async throws -> Bool {
        try await write { c in
            guard let current = try Self.row(shard: shard, c),
                  let next = ShardMapRules.renewLease(current, epoch: epoch, node: node, now: try c.databaseNow(), ttl: ttl) else { return false }
            try Self.update(next, c)
            return true
        }
    }

    public func releaseShard(shard: Int, epoch: Int, node: String) async throws {
        try await write { c in
            guard let current = try Self.row(shard: shard, c),
                  let next = ShardMapRules.release(current, epoch: epoch, node: node, now: try c.databaseNow()) else { return }
            try Self.update(next, c)
        }
    }

    // MARK: heartbeat reports

    public func reportHeartbeats(master: String, at: LogicalInstant, lastAnswered: [String: LogicalInstant]) async throws {
        try await write { c in
            try c.execute("DELETE FROM heartbeat_reports WHERE master_id=?", [.text(master)])
            for (node, t) in lastAnswered.sorted(by: { $0.key < $1.key }) {
                try c.execute("INSERT INTO heartbeat_reports(master_id, coreapp_id, last_answered, reported_at) VALUES (?,?,?,?)",
                              [.text(master), .text(node), .double(t.seconds), .double(at.seconds)])
            }
            if lastAnswered.isEmpty {
                // An empty report still says "I am alive and monitoring".
                try c.execute("INSERT INTO heartbeat_reports(master_id, coreapp_id, last_answered, reported_at) VALUES (?,'',0,?)",
                              [.text(master), .double(at.seconds)])
            }
        }
    }

    public func peerReports(excluding master: String) async throws -> [PeerReport] {
        try await look { c in
            var byMaster: [String: PeerReport] = [:]
            for r in try c.query("SELECT master_id, coreapp_id, last_answered, reported_at FROM heartbeat_reports WHERE master_id<>?", [.text(master)]) {
                guard let m = r[0].text else { continue }
                let node = r[1].text ?? ""
                var rep = byMaster[m] ?? PeerReport(masterID: m, reportedAt: .init(seconds: r[3].double ?? 0), lastAnswered: [:])
                if !node.isEmpty { rep.lastAnswered[node] = .init(seconds: r[2].double ?? 0) }
                byMaster[m] = rep
            }
            return byMaster.values.sorted { $0.masterID < $1.masterID }
        }
    }

    // MARK: settings

    static func encode(_ s: ApplicationSettings) -> String {
        String(decoding: (try? JSONCodec.encodedData(s)) ?? Data("{}".utf8), as: UTF8.self)
    }

    public func settings() async throws -> SettingsRecord {
        try await look { c in
            guard let r = try c.query("SELECT version, body FROM settings WHERE id=1").first else { return SettingsRecord(version: 0, settings: SeedData.settings) }
            let s = (try? JSONCodec.decode(ApplicationSettings.self, from: Data((r[1].text ?? "{}").utf8))) ?? SeedData.settings
            return SettingsRecord(version: r[0].int ?? 0, settings: s)
        }
    }

    public func saveSettings(_ s: ApplicationSettings) async throws -> Int {
        try await write { c in
            guard let v = try c.scalar("UPDATE settings SET version=version+1, body=? WHERE id=1 RETURNING version", [.text(Self.encode(s))])?.int else {
                throw StoreError(.schemaMissing, "the settings row is missing; run `wacluster dbupgrade`")
            }
            return v
        }
    }

    // MARK: users and tokens

    static func user(_ r: [SQLValue]) -> UserRecord? {
        guard let name = r[0].text else { return nil }
        return UserRecord(username: name, passwordHash: r[1].text ?? "", salt: r[2].text ?? "",
                          mustChangePassword: r[3].int == 1, isAdmin: r[4].int == 1)
    }

    public func user(_ name: String) async throws -> UserRecord? {
        try await look { c in
            try c.query("SELECT username, password_hash, salt, must_change, is_admin FROM users WHERE lower(username)=lower(?)", [.text(name)]).first.flatMap(Self.user)
        }
    }

    public func users() async throws -> [UserRecord] {
        try await look { c in try c.query("SELECT username, password_hash, salt, must_change, is_admin FROM users ORDER BY username").compactMap(Self.user) }
    }

    public func saveUser(_ u: UserRecord) async throws {
        try await write { c in
            try c.execute("""
                INSERT INTO users(username, password_hash, salt, must_change, is_admin) VALUES (?,?,?,?,?)
                ON CONFLICT(username) DO UPDATE SET password_hash=excluded.password_hash, salt=excluded.salt,
                  must_change=excluded.must_change, is_admin=excluded.is_admin
                """, [.text(u.username), .text(u.passwordHash), .text(u.salt), .int(u.mustChangePassword ? 1 : 0), .int(u.isAdmin ? 1 : 0)])
        }
    }

    public func deleteUser(_ name: String) async throws -> Bool {
        try await write { c in
            let gone = try c.execute("DELETE FROM users WHERE lower(username)=lower(?)", [.text(name)]) == 1
            try c.execute("DELETE FROM tokens WHERE lower(username)=lower(?)", [.text(name)])
            return gone
        }
    }

    public func saveToken(_ t: TokenRecord) async throws {
        try await write { c in
            try c.execute("""
                INSERT INTO tokens(token_hash, username, expires_at) VALUES (?,?,?)
                ON CONFLICT(token_hash) DO UPDATE SET username=excluded.username, expires_at=excluded.expires_at
                """, [.text(t.tokenHash), .text(t.username), .double(t.expiresAt)])
        }
    }

    public func token(hash: String) async throws -> TokenRecord? {
        try await look { c in
            try c.query("SELECT token_hash, username, expires_at FROM tokens WHERE token_hash=?", [.text(hash)]).first.flatMap { r in
                r[0].text.map { TokenRecord(tokenHash: $0, username: r[1].text ?? "", expiresAt: r[2].double ?? 0) }
            }
        }
    }

    public func deleteTokens(of user: String) async throws {
        try await write { c in try c.execute("DELETE FROM tokens WHERE lower(username)=lower(?)", [.text(user)]) }
    }

    public func document(_ name: String) async throws -> String? {
        try await look { c in try c.scalar("SELECT body FROM documents WHERE name=?", [.text(name)])?.text }
    }

    public func saveDocument(_ name: String, body: String?) async throws {
        try await write { c in
            if let body {
                try c.execute("INSERT INTO documents(name, body) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET body=excluded.body",
                              [.text(name), .text(body)])
            } else {
                try c.execute("DELETE FROM documents WHERE name=?", [.text(name)])
            }
        }
    }

    public func clusterSecret(proposing candidate: String) async throws -> String {
        try await write { c in
            try c.execute("INSERT INTO cluster_secret(id, secret) VALUES (1, ?) ON CONFLICT DO NOTHING", [.text(candidate)])
            guard let secret = try c.scalar("SELECT secret FROM cluster_secret WHERE id=1", [])?.text else {
                throw StoreError(.failed, "the cluster_secret row is missing after it was written")
            }
            return secret
        }
    }
}
