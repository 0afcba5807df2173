import Foundation
import WACore

extension SQLClusterStore {
    static func message(_ r: [SQLValue]) -> MessageRecord? {
        guard let id = r[0].text else { return nil }
        return MessageRecord(id: id, shard: r[1].int ?? 0, recipient: r[2].text ?? "", body: r[3].text ?? "",
                             idempotencyKey: r[4].text, state: MessageState(rawValue: r[5].text ?? "") ?? .accepted,
                             acceptedBy: r[6].text ?? "", acceptedAt: .init(seconds: r[7].double ?? 0),
                             kind: r[8].text.flatMap(MessageKind.init(rawValue:)) ?? .text)
    }
    /// `content_kind` is NULL for text, so rows written before templates existed read as text.
    static let messageColumns = "id, shard, recipient, body, idempotency_key, state, accepted_by, accepted_at, content_kind"
    static let pageBodyCharacters = RequestRules.maxTextBodyCharacters + 1

    public func acceptMessages(_ batch: [MessageRecord]) async throws -> [String] {
        try await write { c in
            var ids = batch.map(\.id)
            // The first message of each key in the batch is the one to store; later ones in the
            // same batch are retries of it and get its id.
            var firstOfKey: [String: Int] = [:]
            var keyed: [Int] = [], plain: [MessageRecord] = []
            for (i, m) in batch.enumerated() {
                guard let key = m.idempotencyKey else { plain.append(m); continue }
                if let first = firstOfKey[key] { ids[i] = batch[first].id; continue }
                firstOfKey[key] = i
                keyed.append(i)
            }
            // A hundred rows per statement, keyed or not: a batch costs a few round trips, not one
            // per message (on PostgreSQL each is a round trip to the server).
            for chunk in stride(from: 0, to: keyed.count, by: 100) {
                let rows = keyed[chunk..<min(chunk + 100, keyed.count)].map { batch[$0] }
                let placeholders = Array(repeating: "(?,?,?,?,?,?,?,?,?,?)", count: rows.count).joined(separator: ",")
                let inserted = Set(try c.query("""
                    INSERT INTO messages(\(Self.messageColumns), updated_at) VALUES \(placeholders)
                    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING RETURNING id
                    """, rows.flatMap(Self.values)).compactMap { $0.first?.text })
                // Keys stored before (a retry of an accepted message): answer the first message's id.
                let existing = rows.filter { !inserted.contains($0.id) }.compactMap(\.idempotencyKey)
                guard !existing.isEmpty else { continue }
                let marks = Array(repeating: "?", count: existing.count).joined(separator: ",")
                var earlier: [String: String] = [:]
                for row in try c.query("SELECT idempotency_key, id FROM messages WHERE idempotency_key IN (\(marks))", existing.map { .text($0) }) {
                    if let key = row[0].text, let id = row[1].text { earlier[key] = id }
                }
                for i in batch.indices {
                    if let key = batch[i].idempotencyKey, let id = earlier[key] { ids[i] = id }
                }
            }
            for chunk in stride(from: 0, to: plain.count, by: 100) {
                let rows = plain[chunk..<min(chunk + 100, plain.count)]
                let placeholders = Array(repeating: "(?,?,?,?,?,?,?,?,?,?)", count: rows.count).joined(separator: ",")
                try c.execute("INSERT INTO messages(\(Self.messageColumns), updated_at) VALUES \(placeholders)", rows.flatMap(Self.values))
            }
            return ids
        }
    }

    static func values(_ m: MessageRecord) -> [SQLValue] {
        [.text(m.id), .int(Int64(m.shard)), .text(m.recipient), .text(m.body), m.idempotencyKey.map { .text($0) } ?? .null,
         .text(m.state.rawValue), .text(m.acceptedBy), .double(m.acceptedAt.seconds),
         m.kind == .text ? .null : .text(m.kind.rawValue), .double(m.acceptedAt.seconds)]
    }

    public func applyStatuses(_ updates: [StatusUpdate], at: LogicalInstant, callbacks: CallbackStamp?) async throws -> [StatusChange] {
        try await write { c in
            var moved: [StatusChange] = []
            let failures = Dictionary(updates.compactMap { u in u.failure.map { (u.id, $0) } }, uniquingKeysWith: { a, _ in a })
            // One statement per target state, lowest first, so a batch holding "sent" and then
            // "delivered" for one message moves it through both.
            for state in MessageState.allCases.sorted(by: { $0.rank < $1.rank }) {
                let ids = updates.filter { $0.state == state }.map(\.id)
                // Only forward: from the states a message may still leave for this one.
                let earlier = MessageState.allCases.filter { $0.rank < state.rank }.map { "'\($0.rawValue)'" }.joined(separator: ",")
                guard !ids.isEmpty, !earlier.isEmpty else { continue }
                for chunk in stride(from: 0, to: ids.count, by: 200) {
                    let part = Array(ids[chunk..<min(chunk + 200, ids.count)])
                    let rows = try c.query("""
                        UPDATE messages SET state=?, updated_at=? WHERE state IN (\(earlier)) AND id IN (\(Array(repeating: "?", count: part.count).joined(separator: ",")))
                        RETURNING id, shard, recipient
                        """, [.text(state.rawValue), .double(at.seconds)] + part.map { .text($0) })
                    var byID: [String: StatusChange] = [:]
                    for r in rows {
                        guard let id = r[0].text else { continue }
                        byID[id] = StatusChange(id: id, shard: r[1].int ?? 0, recipient: r[2].text ?? "", state: state,
                                                failure: state == .failed ? failures[id] : nil)
                    }
                    // In the order the statuses came, once each.
                    for id in part { if let change = byID.removeValue(forKey: id) { moved.append(change) } }
                }
            }
            if let callbacks {
                let called = moved.filter { callbacks.callsBack($0.state) }
                let last = called.count
                for chunk in stride(from: 0, to: last, by: 100) {
                    let part = called[chunk..<min(chunk + 100, last)]
                    let placeholders = Array(repeating: "(?, 'status', ?, 0, ?, ?)", count: part.count).joined(separator: ",")
                    try c.execute("INSERT INTO callbacks(shard, kind, payload, attempts, next_attempt_at, created_at) VALUES \(placeholders)",
                                  part.flatMap { change -> [SQLValue] in
                                      [.int(Int64(change.shard)), .text(CallbackPayloads.status(change, unixTime: callbacks.unixTime)),
                                       .double(at.seconds), .double(at.seconds)]
                                  })
                }
            }
            return moved
        }
    }

    public func eraseDeliveredContent(_ ids: [String]) async throws {
        guard !ids.isEmpty else { return }
        try await write { c in
            for chunk in stride(from: 0, to: ids.count, by: 200) {
                let part = Array(ids[chunk..<min(chunk + 200, ids.count)])
                try c.execute("UPDATE messages SET body='' WHERE state IN ('delivered','read') AND id IN (\(Array(repeating: "?", count: part.count).joined(separator: ",")))",
                              part.map { .text($0) })
            }
        }
    }

    public func pendingMessages(shard: Int, limit: Int) async throws -> [MessageRecord] {
        try await look { c in
            // A page carries at most one character more of a body than a message may have: enough
            // for the owner to see that a row is too long (and fail it), never megabytes per row.
            try c.query("""
                SELECT id, shard, recipient, substr(body, 1, \(Self.pageBodyCharacters)), idempotency_key, state, accepted_by, accepted_at, content_kind
                FROM messages WHERE shard=? AND state='accepted' ORDER BY accepted_at LIMIT ?
                """, [.int(Int64(shard)), .int(Int64(limit))]).compactMap(Self.message)
        }
    }

    public func message(_ id: String) async throws -> MessageRecord? {
        try await look { c in try c.query("SELECT \(Self.messageColumns) FROM messages WHERE id=?", [.text(id)]).first.flatMap(Self.message) }
    }

    public func enqueueCallback(shard: Int, kind: String, payload: String, at: LogicalInstant) async throws {
        try await write { c in
            try c.execute("INSERT INTO callbacks(shard, kind, payload, attempts, next_attempt_at, created_at) VALUES (?,?,?,0,?,?)",
                          [.int(Int64(shard)), .text(kind), .text(payload), .double(at.seconds), .double(at.seconds)])
        }
    }

    public func dueCallbacks(shard: Int, now: LogicalInstant, limit: Int) async throws -> [CallbackRecord] {
        try await look { c in
            try c.query("SELECT id, shard, kind, payload, attempts, next_attempt_at FROM callbacks WHERE shard=? AND next_attempt_at<=? ORDER BY id LIMIT ?",
                        [.int(Int64(shard)), .double(now.seconds), .int(Int64(limit))]).map {
                CallbackRecord(id: Int64($0[0].int ?? 0), shard: $0[1].int ?? 0, kind: $0[2].text ?? "", payload: $0[3].text ?? "",
                               attempts: $0[4].int ?? 0, nextAttemptAt: .init(seconds: $0[5].double ?? 0))
            }
        }
    }

    public func completeCallbacks(_ ids: [Int64]) async throws {
        guard !ids.isEmpty else { return }
        try await write { c in
            for chunk in stride(from: 0, to: ids.count, by: 200) {
                let part = ids[chunk..<min(chunk + 200, ids.count)]
                try c.execute("DELETE FROM callbacks WHERE id IN (\(part.map(String.init).joined(separator: ",")))")
            }
        }
    }

    public func retryCallbacks(_ retries: [CallbackRetry], error: String) async throws {
        guard !retries.isEmpty else { return }
        try await write { c in
            for r in retries {
                try c.execute("UPDATE callbacks SET attempts=?, next_attempt_at=?, last_error=? WHERE id=?",
                              [.int(Int64(r.attempts)), .double(r.nextAttemptAt.seconds), .text(String(error.prefix(500))), .int(r.id)])
            }
        }
    }

    public func recordInbound(id: String, shard: Int, sender: String, body: String, at: LogicalInstant) async throws -> Bool {
        try await write { c in
            try c.execute("INSERT INTO inbound_messages(id, shard, sender, body, received_at) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING",
                          [.text(id), .int(Int64(shard)), .text(sender), .text(body), .double(at.seconds)]) == 1
        }
    }

    public func dbStats() async throws -> DBStats {
        try await look { c in
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
            s.callbacksPending = try c.scalar("SELECT COUNT(*) FROM callbacks")?.int ?? 0
            s.inboundMessages = try c.scalar("SELECT COUNT(*) FROM inbound_messages")?.int ?? 0
            s.nodes = try c.scalar("SELECT COUNT(*) FROM nodes")?.int ?? 0
            s.shards = try Self.account(c)?.shards ?? 1
            return s
        }
    }
}
