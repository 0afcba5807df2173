import WACore

/// Where a message is: accepted (durable, not yet at the gateway), then what the gateway said.
public enum MessageState: String, Codable, Sendable, CaseIterable {
    case accepted, sent, delivered, read, failed
    /// Statuses only move forward: a late "sent" never overwrites "delivered".
    public var rank: Int { switch self { case .accepted: 0; case .sent: 1; case .delivered: 2; case .read: 3; case .failed: 4 } }
}

public struct MessageRecord: Codable, Equatable, Sendable {
    public var id: String
    public var shard: Int
    public var recipient: String
    public var body: String
    public var idempotencyKey: String?
    public var state: MessageState
    public var acceptedBy: String
    public var acceptedAt: LogicalInstant
    /// What `body` holds: the text, or a template document (JSON).
    public var kind: MessageKind
    public init(id: String, shard: Int, recipient: String, body: String, idempotencyKey: String?, state: MessageState,
                acceptedBy: String, acceptedAt: LogicalInstant, kind: MessageKind = .text) {
        self.id = id; self.shard = shard; self.recipient = recipient; self.body = body; self.idempotencyKey = idempotencyKey
        self.state = state; self.acceptedBy = acceptedBy; self.acceptedAt = acceptedAt; self.kind = kind
    }
    enum CodingKeys: String, CodingKey { case id, shard, recipient, body, idempotencyKey, state, acceptedBy, acceptedAt, kind }
    /// A record without `kind` (written by an earlier version) is text.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(id: try c.decode(String.self, forKey: .id), shard: try c.decode(Int.self, forKey: .shard),
                  recipient: try c.decode(String.self, forKey: .recipient), body: try c.decode(String.self, forKey: .body),
                  idempotencyKey: try c.decodeIfPresent(String.self, forKey: .idempotencyKey), state: try c.decode(MessageState.self, forKey: .state),
                  acceptedBy: try c.decode(String.self, forKey: .acceptedBy), acceptedAt: try c.decode(LogicalInstant.self, forKey: .acceptedAt),
                  kind: try c.decodeIfPresent(MessageKind.self, forKey: .kind) ?? .text)
    }
}

/// What the gateway said about one message.
public struct StatusUpdate: Codable, Equatable, Sendable {
    public var id: String
    public var state: MessageState
    /// Why the message failed (with `failed`): reported to the webhook.
    public var failure: String?
    public init(id: String, state: MessageState, failure: String? = nil) { self.id = id; self.state = state; self.failure = failure }
}

/// A message that moved to a new state, as the webhook reports it.
public struct StatusChange: Codable, Equatable, Sendable {
    public var id: String
    public var shard: Int
    public var recipient: String
    public var state: MessageState
    public var failure: String?
    public init(id: String, shard: Int, recipient: String, state: MessageState, failure: String? = nil) {
        self.id = id; self.shard = shard; self.recipient = recipient; self.state = state; self.failure = failure
    }
}

/// Queue status callbacks with this webhook `timestamp` (unix seconds, as the product sends).
public struct CallbackStamp: Codable, Equatable, Sendable {
    public var unixTime: Int
    /// States whose callbacks the settings turned off (`webhooks.message`, `sent_status`).
    public var silenced: [MessageState]
    public init(unixTime: Int, silenced: [MessageState] = []) { self.unixTime = unixTime; self.silenced = silenced }
    public func callsBack(_ state: MessageState) -> Bool { !silenced.contains(state) }
    /// The states the settings call back none of.
    public static func silenced(by settings: ApplicationSettings) -> [MessageState] {
        MessageState.allCases.filter { $0 != .accepted && !settings.callsBack(status: $0.rawValue) }
    }
}

/// A failed delivery's next try.
public struct CallbackRetry: Codable, Equatable, Sendable {
    public var id: Int64
    public var attempts: Int
    public var nextAttemptAt: LogicalInstant
    public init(id: Int64, attempts: Int, nextAttemptAt: LogicalInstant) { self.id = id; self.attempts = attempts; self.nextAttemptAt = nextAttemptAt }
}

/// A webhook callback waiting for delivery (at least once, linear backoff).
public struct CallbackRecord: Codable, Equatable, Sendable {
    public var id: Int64
    public var shard: Int
    public var kind: String
    public var payload: String
    public var attempts: Int
    public var nextAttemptAt: LogicalInstant
    public init(id: Int64, shard: Int, kind: String, payload: String, attempts: Int, nextAttemptAt: LogicalInstant) {
        self.id = id; self.shard = shard; self.kind = kind; self.payload = payload; self.attempts = attempts; self.nextAttemptAt = nextAttemptAt
    }
}

/// Counts for `/v1/stats/db` and `/metrics`.
public struct DBStats: Codable, Equatable, Sendable {
    public var messagesPending = 0
    public var messagesSent = 0
    public var messagesDelivered = 0
    public var messagesRead = 0
    public var callbacksPending = 0
    public var inboundMessages = 0
    public var nodes = 0
    public var shards = 0
    public init() {}
    enum CodingKeys: String, CodingKey {
        case messagesPending = "messages_pending", messagesSent = "messages_sent", messagesDelivered = "messages_delivered"
        case messagesRead = "messages_read", callbacksPending = "callbacks_pending", inboundMessages = "inbound_messages", nodes, shards
    }
}
