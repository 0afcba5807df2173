import Foundation
import WACore
import WACoordination

/// The embedded default backend: one SQLite file shared by every node on the machine.
public final class SQLiteClusterStore: ClusterStore, @unchecked Sendable {
    public let engine = DatabaseEngine.sqlite
    public var location: String { db.path }
    let db: SQLiteDatabase

    public init(path: String) throws {
        do { db = try SQLiteDatabase(path: path) }
        catch { throw StoreError(.unavailable, "cannot open SQLite file \(path): \(error); check WA_DB_PATH and its folder's permissions") }
    }

    // MARK: schema

    public func schemaVersion() async throws -> Int {
        try await db.run { c in try Self.version(c) }
    }

    static func version(_ c: SQLiteConnection) throws -> Int {
        let t = try c.query("SELECT name FROM sqlite_master WHERE type='table' AND name='schema_info'")
        if t.isEmpty { return 0 }
        return try c.query("SELECT MAX(version) FROM schema_info").first?.first?.int ?? 0
    }

    public func migrate() async throws -> (from: Int, to: Int) {
        try await db.run { c in
            try c.writeTransaction {
                try c.execute("CREATE TABLE IF NOT EXISTS schema_info(version INTEGER NOT NULL)")
                let from = try Self.version(c)
                guard from <= Migrations.latest else {
                    throw StoreError(.schemaTooNew, "the DB schema is version \(from) but this binary knows up to \(Migrations.latest); run a newer wacluster")
                }
                for m in Migrations.all where m.version > from {
                    try c.executeScript(m.sql)
                    try c.execute("INSERT INTO schema_info(version) VALUES (?)", [.int(Int64(m.version))])
                }
                // The product's default login: admin / secret, to be changed at first login.
                let salt = Credentials.randomHex(bytes: 8)
                try c.execute("INSERT OR IGNORE INTO users(username, password_hash, salt, must_change, is_admin) VALUES ('admin', ?, ?, 1, 1)",
                              [.text(Credentials.hashPassword("secret", salt: salt)), .text(salt)])
                try c.execute("INSERT OR IGNORE INTO settings(id, version, body) VALUES (1, 1, ?)",
                              [.text(Self.encode(ApplicationSettings()))])
                return (from, Migrations.latest)
            }
        }
    }

    // MARK: nodes

    public func upsertNode(_ n: NodeRecord) async throws {
        try await db.run { c in
            try c.execute("""
                INSERT INTO nodes(node_id, hostname, role, rpc_address, version, registered_at, heartbeat_at) VALUES (?,?,?,?,?,?,?)
                ON CONFLICT(node_id) DO UPDATE SET hostname=excluded.hostname, role=excluded.role, rpc_address=excluded.rpc_address,
                  version=excluded.version, heartbeat_at=excluded.heartbeat_at
                """, [.text(n.nodeID), .text(n.hostname), .text(n.role.rawValue), .text(n.rpcAddress.description),
                      .text(n.version), .double(n.registeredAt.seconds), .double(n.heartbeatAt.seconds)])
        }
    }

    public func touchNode(_ id: String, at: LogicalInstant) async throws {
        try await db.run { c in try c.execute("UPDATE nodes SET heartbeat_at=? WHERE node_id=?", [.double(at.seconds), .text(id)]) }
    }

    public func removeNode(_ id: String) async throws {
        try await db.run { c in
            try c.execute("DELETE FROM nodes WHERE node_id=?", [.text(id)])
            try c.execute("DELETE FROM heartbeat_reports WHERE master_id=? OR coreapp_id=?", [.text(id), .text(id)])
        }
    }

    public func nodes() async throws -> [NodeRecord] {
        try await db.run { c in
            try c.query("SELECT node_id, hostname, role, rpc_address, version, registered_at, heartbeat_at FROM nodes ORDER BY hostname, node_id").compactMap { r in
                guard let role = NodeRole(rawValue: r[2].text ?? ""), let addr = HostPort(r[3].text ?? "") else { return nil }
                return NodeRecord(nodeID: r[0].text!, hostname: r[1].text!, role: role, rpcAddress: addr, version: r[4].text ?? "",
                                  registeredAt: .init(seconds: r[5].double ?? 0), heartbeatAt: .init(seconds: r[6].double ?? 0))
            }
        }
    }

    // MARK: master lease

    static func lease(_ c: SQLiteConnection) throws -> LeaseRecord {
        guard let r = try c.query("SELECT holder, term, expires_at FROM master_lease WHERE id=1").first else { return .vacant }
        return LeaseRecord(holder: r[0].text, term: r[1].int ?? 0, expiresAt: .init(seconds: r[2].double ?? 0))
    }

    static func write(_ l: LeaseRecord, _ c: SQLiteConnection) throws {
        try c.execute("UPDATE master_lease SET holder=?, term=?, expires_at=? WHERE id=1",
                      [l.holder.map { .text($0) } ?? .null, .int(Int64(l.term)), .double(l.expiresAt.seconds)])
    }

    static func holds(_ g: MasterGuard, _ c: SQLiteConnection) throws -> Bool {
        let l = try lease(c)
        return l.holder == g.nodeID && l.term == g.term && l.expiresAt > g.now
    }

    public func acquireMasterLease(node: String, now: LogicalInstant, ttl: Double) async throws -> LeaseRecord {
        try await db.run { c in
            try c.writeTransaction {
                let current = try Self.lease(c)
                let next = LeaseRules.acquire(current, by: node, now: now, ttl: ttl)
                if next != current { try Self.write(next, c) }
                return next
            }
        }
    }

    public func renewMasterLease(node: String, term: Int, now: LogicalInstant, ttl: Double) async throws -> Bool {
        try await db.run { c in
            try c.writeTransaction {
                guard let next = LeaseRules.renew(try Self.lease(c), by: node, term: term, now: now, ttl: ttl) else { return false }
                try Self.write(next, c)
                return true
            }
        }
    }

    public func releaseMasterLease(node: String, term: Int) async throws {
        try await db.run { c in
            try c.execute("UPDATE master_lease SET expires_at=0 WHERE id=1 AND holder=? AND term=?", [.text(node), .int(Int64(term))])
        }
    }

    public func masterLease() async throws -> LeaseRecord { try await db.run { c in try Self.lease(c) } }

    // MARK: account and shard map

    public func account() async throws -> AccountRecord? {
        try await db.run { c in try Self.account(c) }
    }

    static func account(_ c: SQLiteConnection) throws -> AccountRecord? {
        guard let r = try c.query("SELECT cc, phone_number, vname, state, shards FROM account WHERE id=1").first else { return nil }
        return AccountRecord(cc: r[0].text ?? "", phoneNumber: r[1].text ?? "", vname: r[2].text ?? "",
                             state: AccountRecord.State(rawValue: r[3].text ?? "") ?? .pendingCode, shards: r[4].int ?? 1)
    }

    public func saveAccount(_ a: AccountRecord, guard g: MasterGuard) async throws -> Bool {
        try await db.run { c in
            try c.writeTransaction {
                guard try Self.holds(g, c) else { return false }
                try c.execute("""
                    INSERT INTO account(id, cc, phone_number, vname, state, shards) VALUES (1,?,?,?,?,?)
                    ON CONFLICT(id) DO UPDATE SET cc=excluded.cc, phone_number=excluded.phone_number, vname=excluded.vname,
                      state=excluded.state, shards=excluded.shards
                    """, [.text(a.cc), .text(a.phoneNumber), .text(a.vname), .text(a.state.rawValue), .int(Int64(a.shards))])
                if a.state == .registered, try c.query("SELECT COUNT(*) FROM shard_map").first?.first?.int == 0 {
                    try Self.resetShards(count: a.shards, c, now: g.now)
                }
                return true
            }
        }
    }

    static func rows(_ c: SQLiteConnection) throws -> [ShardAssignment] {
        try c.query("SELECT shard, owner, epoch, fence_until, lease_until FROM shard_map ORDER BY shard").map { r in
            ShardAssignment(shard: r[0].int ?? 0, owner: r[1].text, epoch: r[2].int ?? 0,
                            fenceUntil: .init(seconds: r[3].double ?? 0), leaseUntil: r[4].double.map { .init(seconds: $0) })
        }
    }

    public func shardMap() async throws -> ShardMapSnapshot {
        try await db.run { c in
            let count = try Self.account(c)?.shards ?? 1
            return ShardMapSnapshot(shardCount: count, rows: try Self.rows(c))
        }
    }

    static func nextEpoch(_ c: SQLiteConnection) throws -> Int {
        try c.execute("UPDATE counters SET value = value + 1 WHERE name='shard_epoch'")
        return try c.query("SELECT value FROM counters WHERE name='shard_epoch'").first?.first?.int ?? 1
    }

    static func resetShards(count: Int, _ c: SQLiteConnection, now: LogicalInstant) throws {
        // Every new owner waits until every current lease has ended: a shard number under
        // the new count may be the same gateway shard an old owner still holds.
        let fence = try rows(c).reduce(now.seconds) { m, r in max(m, r.leaseUntil?.seconds ?? 0, r.fenceUntil.seconds) }
        try c.execute("DELETE FROM shard_map")
        for s in 0..<count {
            try c.execute("INSERT INTO shard_map(shard, owner, epoch, fence_until, lease_until) VALUES (?, NULL, ?, ?, NULL)",
                          [.int(Int64(s)), .int(Int64(try nextEpoch(c))), .double(fence)])
        }
    }

    public func assignShard(_ shard: Int, to node: String, guard g: MasterGuard) async throws -> ShardAssignment? {
        try await db.run { c in
            try c.writeTransaction {
                guard try Self.holds(g, c) else { return nil }
                guard let old = try Self.rows(c).first(where: { $0.shard == shard }) else { return nil }
                // A node owns at most one shard.
                if try !c.query("SELECT shard FROM shard_map WHERE owner=? AND shard<>?", [.text(node), .int(Int64(shard))]).isEmpty { return nil }
                let fence = max(old.fenceUntil.seconds, old.leaseUntil?.seconds ?? 0, g.now.seconds)
                let epoch = try Self.nextEpoch(c)
                try c.execute("UPDATE shard_map SET owner=?, epoch=?, fence_until=?, lease_until=NULL WHERE shard=?",
                              [.text(node), .int(Int64(epoch)), .double(fence), .int(Int64(shard))])
                return ShardAssignment(shard: shard, owner: node, epoch: epoch, fenceUntil: .init(seconds: fence), leaseUntil: nil)
            }
        }
    }

    public func setShardCount(_ count: Int, guard g: MasterGuard) async throws -> Bool {
        try await db.run { c in
            try c.writeTransaction {
                guard try Self.holds(g, c) else { return false }
                try c.execute("UPDATE account SET shards=? WHERE id=1", [.int(Int64(count))])
                try Self.resetShards(count: count, c, now: g.now)
                return true
            }
        }
    }

    public func acquireShardLease(shard: Int, epoch: Int, node: String, now: LogicalInstant, ttl: Double) async throws -> LogicalInstant? {
        try await db.run { c in
            try c.writeTransaction {
                let until = now + ttl
                try c.execute("UPDATE shard_map SET lease_until=? WHERE shard=? AND owner=? AND epoch=? AND fence_until<=?",
                              [.double(until.seconds), .int(Int64(shard)), .text(node), .int(Int64(epoch)), .double(now.seconds)])
                return c.changes == 1 ? until : nil
            }
        }
    }

    public func renewShardLease(shard: Int, epoch: Int, node: String, now: LogicalInstant, ttl: Double) async throws -> Bool {
        try await db.run { c in
            try c.writeTransaction {
                try c.execute("UPDATE shard_map SET lease_until=? WHERE shard=? AND owner=? AND epoch=? AND lease_until>?",
                              [.double((now + ttl).seconds), .int(Int64(shard)), .text(node), .int(Int64(epoch)), .double(now.seconds)])
                return c.changes == 1
            }
        }
    }

    public func releaseShard(shard: Int, epoch: Int, node: String, now: LogicalInstant) async throws {
        try await db.run { c in
            try c.execute("UPDATE shard_map SET owner=NULL, lease_until=NULL, fence_until=? WHERE shard=? AND owner=? AND epoch=?",
                          [.double(now.seconds), .int(Int64(shard)), .text(node), .int(Int64(epoch))])
        }
    }

    // MARK: heartbeat reports

    public func reportHeartbeats(master: String, at: LogicalInstant, lastAnswered: [String: LogicalInstant]) async throws {
        try await db.run { c in
            try c.writeTransaction {
                try c.execute("DELETE FROM heartbeat_reports WHERE master_id=?", [.text(master)])
                for (node, t) in lastAnswered {
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
    }

    public func peerReports(excluding master: String) async throws -> [PeerReport] {
        try await db.run { c in
            var byMaster: [String: PeerReport] = [:]
            for r in try c.query("SELECT master_id, coreapp_id, last_answered, reported_at FROM heartbeat_reports WHERE master_id<>?", [.text(master)]) {
                let m = r[0].text!, node = r[1].text ?? ""
                var rep = byMaster[m] ?? PeerReport(masterID: m, reportedAt: .init(seconds: r[3].double ?? 0), lastAnswered: [:])
                if !node.isEmpty { rep.lastAnswered[node] = .init(seconds: r[2].double ?? 0) }
                byMaster[m] = rep
            }
            return byMaster.values.sorted { $0.masterID < $1.masterID }
        }
    }

    // MARK: settings

    static func encode(_ s: ApplicationSettings) -> String {
        String(decoding: (try? JSONEncoder().encode(s)) ?? Data("{}".utf8), as: UTF8.self)
    }

    public func settings() async throws -> (version: Int, settings: ApplicationSettings) {
        try await db.run { c in
            guard let r = try c.query("SELECT version, body FROM settings WHERE id=1").first else { return (0, ApplicationSettings()) }
            let s = (try? JSONDecoder().decode(ApplicationSettings.self, from: Data((r[1].text ?? "{}").utf8))) ?? ApplicationSettings()
            return (r[0].int ?? 0, s)
        }
    }

    public func saveSettings(_ s: ApplicationSettings) async throws -> Int {
        try await db.run { c in
            try c.writeTransaction {
                try c.execute("UPDATE settings SET version=version+1, body=? WHERE id=1", [.text(Self.encode(s))])
                return try c.query("SELECT version FROM settings WHERE id=1").first?.first?.int ?? 0
            }
        }
    }

    // MARK: users and tokens

    static func user(_ r: [SQLValue]) -> UserRecord {
        UserRecord(username: r[0].text!, passwordHash: r[1].text ?? "", salt: r[2].text ?? "",
                   mustChangePassword: r[3].int == 1, isAdmin: r[4].int == 1)
    }

    public func user(_ name: String) async throws -> UserRecord? {
        try await db.run { c in
            try c.query("SELECT username, password_hash, salt, must_change, is_admin FROM users WHERE username=?", [.text(name)]).first.map(Self.user)
        }
    }

    public func users() async throws -> [UserRecord] {
        try await db.run { c in try c.query("SELECT username, password_hash, salt, must_change, is_admin FROM users ORDER BY username").map(Self.user) }
    }

    public func saveUser(_ u: UserRecord) async throws {
        try await db.run { c in
            try c.execute("""
                INSERT INTO users(username, password_hash, salt, must_change, is_admin) VALUES (?,?,?,?,?)
                ON CONFLICT(username) DO UPDATE SET password_hash=excluded.password_hash, salt=excluded.salt,
                  must_change=excluded.must_change, is_admin=excluded.is_admin
                """, [.text(u.username), .text(u.passwordHash), .text(u.salt), .int(u.mustChangePassword ? 1 : 0), .int(u.isAdmin ? 1 : 0)])
        }
    }

    public func deleteUser(_ name: String) async throws -> Bool {
        try await db.run { c in
            try c.writeTransaction {
                try c.execute("DELETE FROM users WHERE username=?", [.text(name)])
                let gone = c.changes == 1
                try c.execute("DELETE FROM tokens WHERE username=?", [.text(name)])
                return gone
            }
        }
    }

    public func saveToken(_ t: TokenRecord) async throws {
        try await db.run { c in
            try c.execute("INSERT OR REPLACE INTO tokens(token_hash, username, expires_at) VALUES (?,?,?)",
                          [.text(t.tokenHash), .text(t.username), .double(t.expiresAt)])
        }
    }

    public func token(hash: String) async throws -> TokenRecord? {
        try await db.run { c in
            try c.query("SELECT token_hash, username, expires_at FROM tokens WHERE token_hash=?", [.text(hash)]).first.map {
                TokenRecord(tokenHash: $0[0].text!, username: $0[1].text ?? "", expiresAt: $0[2].double ?? 0)
            }
        }
    }

    public func deleteTokens(of user: String) async throws {
        try await db.run { c in try c.execute("DELETE FROM tokens WHERE username=?", [.text(user)]) }
    }
}
