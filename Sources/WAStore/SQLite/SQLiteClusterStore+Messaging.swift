import Foundation
import WACore

extension SQLiteClusterStore {
    static func message(_ r: [SQLValue]) -> MessageRecord {
        MessageRecord(id: r[0].text!, shard: r[1].int ?? 0, recipient: r[2].text ?? "", body: r[3].text ?? "",
                      idempotencyKey: r[4].text, state: MessageState(rawValue: r[5].text ?? "") ?? .accepted,
                      acceptedBy: r[6].text ?? "", acceptedAt: .init(seconds: r[7].double ?? 0))
    }
    static let messageColumns = "id, shard, recipient, body, idempotency_key, state, accepted_by, accepted_at"

    public func acceptMessages(_ batch: [MessageRecord]) async throws -> [String] {
        try await db.run { c in
            try c.writeTransaction {
                var ids: [String] = []
                ids.reserveCapacity(batch.count)
                for m in batch {
                    if let key = m.idempotencyKey,
                       let existing = try c.query("SELECT id FROM messages WHERE idempotency_key=?", [.text(key)]).first?.first?.text {
                        ids.append(existing)
                        continue
                    }
                    try c.execute("INSERT INTO messages(\(Self.messageColumns), updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                                  [.text(m.id), .int(Int64(m.shard)), .text(m.recipient), .text(m.body),
                                   m.idempotencyKey.map { .text($0) } ?? .null, .text(m.state.rawValue), .text(m.acceptedBy),
                                   .double(m.acceptedAt.seconds), .double(m.acceptedAt.seconds)])
                    ids.append(m.id)
                }
                return ids
            }
        }
    }

    static func statusPayload(id: String, recipient: String, status: MessageState, at: LogicalInstant) -> String {
        // The product's status callback shape.
        let ts = String(Int(Date().timeIntervalSince1970))
        let entry: JSONValue = .object(["id": .string(id), "recipient_id": .string(recipient), "status": .string(status.rawValue), "timestamp": .string(ts)])
        return String(decoding: JSONCodec.data(.object(["statuses": .array([entry])])), as: UTF8.self)
    }

    public func applyStatuses(_ updates: [(id: String, state: MessageState)], at: LogicalInstant, callbacks: Bool) async throws -> Int {
        try await db.run { c in
            try c.writeTransaction {
                var moved = 0
                for u in updates {
                    // Only forward: the states a message may still leave for u.state.
                    let earlier = MessageState.allCases.filter { $0.rank < u.state.rank }.map { "'\($0.rawValue)'" }.joined(separator: ",")
                    guard !earlier.isEmpty, let row = try c.query(
                        "UPDATE messages SET state=?, updated_at=? WHERE id=? AND state IN (\(earlier)) RETURNING shard, recipient",
                        [.text(u.state.rawValue), .double(at.seconds), .text(u.id)]).first else { continue }
                    moved += 1
                    if callbacks {
                        try c.execute("INSERT INTO callbacks(shard, kind, payload, attempts, next_attempt_at, created_at) VALUES (?, 'status', ?, 0, ?, ?)",
                                      [row[0], .text(Self.statusPayload(id: u.id, recipient: row[1].text ?? "", status: u.state, at: at)),
                                       .double(at.seconds), .double(at.seconds)])
                    }
                }
                return moved
            }
        }
    }

    public func pendingMessages(shard: Int, limit: Int) async throws -> [MessageRecord] {
        try await db.run { c in
            try c.query("SELECT \(Self.messageColumns) FROM messages WHERE shard=? AND state='accepted' ORDER BY accepted_at LIMIT ?",
                        [.int(Int64(shard)), .int(Int64(limit))]).map(Self.message)
        }
    }

    public func message(_ id: String) async throws -> MessageRecord? {
        try await db.run { c in try c.query("SELECT \(Self.messageColumns) FROM messages WHERE id=?", [.text(id)]).first.map(Self.message) }
    }

    public func enqueueCallback(shard: Int, kind: String, payload: String, at: LogicalInstant) async throws {
        try await db.run { c in
            try c.execute("INSERT INTO callbacks(shard, kind, payload, attempts, next_attempt_at, created_at) VALUES (?,?,?,0,?,?)",
                          [.int(Int64(shard)), .text(kind), .text(payload), .double(at.seconds), .double(at.seconds)])
        }
    }

    public func dueCallbacks(shard: Int, now: LogicalInstant, limit: Int) async throws -> [CallbackRecord] {
        try await db.run { c in
            try c.query("SELECT id, shard, kind, payload, attempts, next_attempt_at FROM callbacks WHERE shard=? AND next_attempt_at<=? ORDER BY id LIMIT ?",
                        [.int(Int64(shard)), .double(now.seconds), .int(Int64(limit))]).map {
                CallbackRecord(id: Int64($0[0].int ?? 0), shard: $0[1].int ?? 0, kind: $0[2].text ?? "", payload: $0[3].text ?? "",
                               attempts: $0[4].int ?? 0, nextAttemptAt: .init(seconds: $0[5].double ?? 0))
            }
        }
    }

    public func completeCallbacks(_ ids: [Int64]) async throws {
        try await db.run { c in
            try c.writeTransaction {
                for chunk in stride(from: 0, to: ids.count, by: 200) {
                    let part = ids[chunk..<min(chunk + 200, ids.count)]
                    try c.execute("DELETE FROM callbacks WHERE id IN (\(part.map(String.init).joined(separator: ",")))")
                }
            }
        }
    }

    public func retryCallbacks(_ ids: [Int64], attempts: [Int64: Int], nextAttemptAt: [Int64: LogicalInstant], error: String) async throws {
        try await db.run { c in
            try c.writeTransaction {
                for id in ids {
                    try c.execute("UPDATE callbacks SET attempts=?, next_attempt_at=?, last_error=? WHERE id=?",
                                  [.int(Int64(attempts[id] ?? 1)), .double(nextAttemptAt[id]?.seconds ?? 0), .text(String(error.prefix(500))), .int(id)])
                }
            }
        }
    }

    public func recordInbound(id: String, shard: Int, sender: String, body: String, at: LogicalInstant) async throws -> Bool {
        try await db.run { c in
            try c.execute("INSERT OR IGNORE INTO inbound_messages(id, shard, sender, body, received_at) VALUES (?,?,?,?,?)",
                          [.text(id), .int(Int64(shard)), .text(sender), .text(body), .double(at.seconds)])
            return c.changes == 1
        }
    }

    public func dbStats() async throws -> DBStats {
        try await db.run { c in
            var s = DBStats()
            for r in try c.query("SELECT state, COUNT(*) FROM messages GROUP BY state") {
                let n = r[1].int ?? 0
                switch MessageState(rawValue: r[0].text ?? "") {
                case .accepted?: s.messagesPending = n
                case .sent?: s.messagesSent = n
                case .delivered?: s.messagesDelivered = n
                case .read?: s.messagesRead = n
                default: break
                }
            }
            s.callbacksPending = try c.query("SELECT COUNT(*) FROM callbacks").first?.first?.int ?? 0
            s.inboundMessages = try c.query("SELECT COUNT(*) FROM inbound_messages").first?.first?.int ?? 0
            s.nodes = try c.query("SELECT COUNT(*) FROM nodes").first?.first?.int ?? 0
            s.shards = try Self.account(c)?.shards ?? 1
            return s
        }
    }
}
