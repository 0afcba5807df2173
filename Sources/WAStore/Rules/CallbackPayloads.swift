import Foundation
import WACore

/// The bodies of webhook callbacks, in the product's shapes. One builder for every path
/// (persisted in the database or kept in the owner's memory), so both carry the same fields.
public enum CallbackPayloads {
    /// `{"statuses":[{"id","recipient_id","status","timestamp"}]}` for one message.
    /// A `failed` status carries `errors` (code, title, details), as the product's does.
    public static func status(_ change: StatusChange, unixTime: Int) -> String {
        var fields: [String: JSONValue] = ["id": .string(change.id), "recipient_id": .string(change.recipient),
                                           "status": .string(change.state.rawValue), "timestamp": .string(String(unixTime))]
        if change.state == .failed {
            let code = APIErrorCode.messageUndeliverable
            fields["errors"] = .array([.object(["code": .number(Double(code.rawValue)), "title": .string(code.title),
                                                "details": .string(change.failure ?? "the message could not be sent")])])
        }
        let entry: JSONValue = .object(fields)
        return String(decoding: JSONCodec.data(.object(["statuses": .array([entry])])), as: UTF8.self)
    }

    /// `{"contacts":[…],"messages":[…]}` for one inbound text message.
    public static func inbound(id: String, from: String, body: String, unixTime: Int) -> String {
        let payload: JSONValue = .object([
            "contacts": .array([.object(["profile": .object(["name": .string("")]), "wa_id": .string(from)])]),
            "messages": .array([.object(["from": .string(from), "id": .string(id), "timestamp": .string(String(unixTime)),
                                         "text": .object(["body": .string(body)]), "type": .string("text")])]),
        ])
        return String(decoding: JSONCodec.data(payload), as: UTF8.self)
    }
}
