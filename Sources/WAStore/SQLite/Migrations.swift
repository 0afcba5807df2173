/// Numbered schema migrations. A migration only adds (tables, columns), so a cluster of
/// version N-1 keeps running on a schema of version N during a rolling upgrade.
enum Migrations {
    static let all: [(version: Int, sql: String)] = [
        (1, """
        CREATE TABLE IF NOT EXISTS nodes(
            node_id TEXT PRIMARY KEY, hostname TEXT NOT NULL, role TEXT NOT NULL, rpc_address TEXT NOT NULL,
            version TEXT NOT NULL, registered_at REAL NOT NULL, heartbeat_at REAL NOT NULL);
        CREATE TABLE IF NOT EXISTS master_lease(
            id INTEGER PRIMARY KEY CHECK (id = 1), holder TEXT, term INTEGER NOT NULL, expires_at REAL NOT NULL);
        INSERT OR IGNORE INTO master_lease(id, holder, term, expires_at) VALUES (1, NULL, 0, 0);
        CREATE TABLE IF NOT EXISTS account(
            id INTEGER PRIMARY KEY CHECK (id = 1), cc TEXT NOT NULL, phone_number TEXT NOT NULL, vname TEXT NOT NULL,
            state TEXT NOT NULL, shards INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS shard_map(
            shard INTEGER PRIMARY KEY, owner TEXT, epoch INTEGER NOT NULL, fence_until REAL NOT NULL, lease_until REAL);
        CREATE TABLE IF NOT EXISTS counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        INSERT OR IGNORE INTO counters(name, value) VALUES ('shard_epoch', 0);
        CREATE TABLE IF NOT EXISTS heartbeat_reports(
            master_id TEXT NOT NULL, coreapp_id TEXT NOT NULL, last_answered REAL NOT NULL, reported_at REAL NOT NULL,
            PRIMARY KEY (master_id, coreapp_id));
        CREATE TABLE IF NOT EXISTS settings(id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS users(
            username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, salt TEXT NOT NULL,
            must_change INTEGER NOT NULL, is_admin INTEGER NOT NULL);
        CREATE TABLE IF NOT EXISTS tokens(token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, expires_at REAL NOT NULL);
        """),
        (2, """
        CREATE TABLE IF NOT EXISTS messages(
            id TEXT PRIMARY KEY, shard INTEGER NOT NULL, recipient TEXT NOT NULL, body TEXT NOT NULL,
            idempotency_key TEXT, state TEXT NOT NULL, accepted_by TEXT NOT NULL, accepted_at REAL NOT NULL,
            updated_at REAL NOT NULL);
        CREATE INDEX IF NOT EXISTS messages_by_state ON messages(shard, state, accepted_at);
        CREATE UNIQUE INDEX IF NOT EXISTS messages_by_key ON messages(idempotency_key) WHERE idempotency_key IS NOT NULL;
        CREATE TABLE IF NOT EXISTS callbacks(
            id INTEGER PRIMARY KEY AUTOINCREMENT, shard INTEGER NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL, created_at REAL NOT NULL, last_error TEXT);
        CREATE INDEX IF NOT EXISTS callbacks_due ON callbacks(shard, next_attempt_at);
        CREATE TABLE IF NOT EXISTS inbound_messages(
            id TEXT PRIMARY KEY, shard INTEGER NOT NULL, sender TEXT NOT NULL, body TEXT NOT NULL, received_at REAL NOT NULL);
        """),
    ]

    static var latest: Int { all.last!.version }
}

extension SQLiteClusterStore {
    /// The schema version this binary creates and expects.
    public static var latestSchemaVersion: Int { Migrations.latest }
}
