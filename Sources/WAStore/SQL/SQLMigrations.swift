import WACore

/// Numbered schema migrations, one script per engine and version. A migration only adds
/// (tables, columns, indexes), so a cluster of version N-1 keeps running on a schema of version
/// N during a rolling upgrade.
public enum SQLMigrations {
    /// This release's migrations for an engine, as `dbupgrade` hands them to an older db node.
    public static func scripts(for engine: DatabaseEngine) -> [MigrationScript] {
        let dialect: SQLDialect = engine == .pgsql ? .postgres : .sqlite
        return scripts(for: dialect).map { MigrationScript(version: $0.version, engine: engine, sql: $0.sql) }
    }

    static func scripts(for dialect: SQLDialect) -> [(version: Int, sql: String)] {
        switch dialect {
        case .sqlite: [(1, v1(real: "REAL", integer: "INTEGER")), (2, v2(real: "REAL", integer: "INTEGER", serial: "INTEGER PRIMARY KEY AUTOINCREMENT")),
                       (3, v3(integer: "INTEGER")), (4, v4(real: "REAL")), (5, v5(integer: "INTEGER"))]
        case .postgres: [(1, v1(real: "DOUBLE PRECISION", integer: "BIGINT")), (2, v2(real: "DOUBLE PRECISION", integer: "BIGINT", serial: "BIGSERIAL PRIMARY KEY")),
                         (3, v3(integer: "BIGINT")), (4, v4(real: "DOUBLE PRECISION")), (5, v5(integer: "BIGINT"))]
        }
    }

    static func latest(for dialect: SQLDialect) -> Int { scripts(for: dialect).last!.version }

    private static func v1(real: String, integer: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS nodes(
            node_id TEXT PRIMARY KEY, hostname TEXT NOT NULL, role TEXT NOT NULL, rpc_address TEXT NOT NULL,
            version TEXT NOT NULL, registered_at \(real) NOT NULL, heartbeat_at \(real) NOT NULL);
        CREATE TABLE IF NOT EXISTS master_lease(
            id \(integer) PRIMARY KEY CHECK (id = 1), holder TEXT, term \(integer) NOT NULL, expires_at \(real) NOT NULL);
        INSERT INTO master_lease(id, holder, term, expires_at) VALUES (1, NULL, 0, 0) ON CONFLICT DO NOTHING;
        CREATE TABLE IF NOT EXISTS account(
            id \(integer) PRIMARY KEY CHECK (id = 1), cc TEXT NOT NULL, phone_number TEXT NOT NULL, vname TEXT NOT NULL,
            state TEXT NOT NULL, shards \(integer) NOT NULL);
        CREATE TABLE IF NOT EXISTS shard_map(
            shard \(integer) PRIMARY KEY, owner TEXT, epoch \(integer) NOT NULL, fence_until \(real) NOT NULL, lease_until \(real));
        CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value \(integer) NOT NULL);
        INSERT INTO counters(name, value) VALUES ('shard_epoch', 0) ON CONFLICT DO NOTHING;
        CREATE TABLE IF NOT EXISTS heartbeat_reports(
            master_id TEXT NOT NULL, coreapp_id TEXT NOT NULL, last_answered \(real) NOT NULL, reported_at \(real) NOT NULL,
            PRIMARY KEY (master_id, coreapp_id));
        CREATE TABLE IF NOT EXISTS settings(id \(integer) PRIMARY KEY CHECK (id = 1), version \(integer) NOT NULL, body TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS users(
            username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, salt TEXT NOT NULL,
            must_change \(integer) NOT NULL, is_admin \(integer) NOT NULL);
        CREATE TABLE IF NOT EXISTS tokens(token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, expires_at \(real) NOT NULL);
        """
    }

    private static func v2(real: String, integer: String, serial: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS messages(
            id TEXT PRIMARY KEY, shard \(integer) NOT NULL, recipient TEXT NOT NULL, body TEXT NOT NULL,
            idempotency_key TEXT, state TEXT NOT NULL, accepted_by TEXT NOT NULL, accepted_at \(real) NOT NULL,
            updated_at \(real) NOT NULL);
        CREATE INDEX IF NOT EXISTS messages_by_state ON messages(shard, state, accepted_at);
        CREATE UNIQUE INDEX IF NOT EXISTS messages_by_key ON messages(idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE TABLE IF NOT EXISTS callbacks(
            id \(serial), shard \(integer) NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
            attempts \(integer) NOT NULL DEFAULT 0, next_attempt_at \(real) NOT NULL, created_at \(real) NOT NULL, last_error TEXT);
        CREATE INDEX IF NOT EXISTS callbacks_due ON callbacks(shard, next_attempt_at);
        CREATE TABLE IF NOT EXISTS inbound_messages(
            id TEXT PRIMARY KEY, shard \(integer) NOT NULL, sender TEXT NOT NULL, body TEXT NOT NULL, received_at \(real) NOT NULL);
        """
    }

    /// The cluster secret nodes share when the operator gives none, and usernames unique
    /// regardless of case (`ADMIN` cannot be created beside `admin`).
    private static func v3(integer: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS cluster_secret(id \(integer) PRIMARY KEY CHECK (id = 1), secret TEXT NOT NULL);
        CREATE UNIQUE INDEX IF NOT EXISTS users_by_folded_name ON users(lower(username));
        """
    }

    /// The API as clients use it: template messages (`content_kind`, NULL for text), the time of
    /// registration (the 7-day rule of a shard change without cert), and the profile's documents.
    private static func v4(real: String) -> String {
        """
        ALTER TABLE messages ADD COLUMN content_kind TEXT;
        ALTER TABLE account ADD COLUMN registered_at \(real);
        CREATE TABLE IF NOT EXISTS documents(name TEXT PRIMARY KEY, body TEXT NOT NULL);
        """
    }

    /// Release 2.55: each node records the schema its release needs, so the database says which
    /// releases a mixed-version cluster runs.
    private static func v5(integer: String) -> String {
        """
        ALTER TABLE nodes ADD COLUMN schema_version \(integer);
        """
    }
}
