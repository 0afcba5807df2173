import Hummingbird
import WACore
import WAWire

extension WebappAPI {
    // MARK: contacts

    /// `POST /v1/contacts`: `{"blocking": "wait"|"no_wait", "contacts": ["+1 631 555 1002", …]}`,
    /// answered per contact with `valid` (and its `wa_id`, which `to` may then be), `invalid`,
    /// or, without waiting, `processing` until the WhatsApp server was asked.
    func checkContacts(_ request: Request) async throws -> Response {
        _ = try await authenticate(request)
        try requireSchema()
        let body = try await RequestBody.object(request)
        try RequestBody.onlyKnown(body, ["blocking", "contacts", "force_check"])
        let blocking = try RequestBody.string(body, "blocking", required: false) ?? "no_wait"
        guard blocking == "wait" || blocking == "no_wait" else { throw APIError.invalid("blocking", "must be \"wait\" or \"no_wait\", got \"\(blocking)\"") }
        if let force = body["force_check"], force.boolValue == nil { throw APIError.invalid("force_check", "expected a boolean, got \(force.typeName)") }
        guard let list = body["contacts"] else { throw APIError.missing("contacts") }
        guard let items = list.arrayValue else { throw APIError.invalid("contacts", "expected an array of phone numbers") }
        let contacts = try items.enumerated().map { i, v throws(APIError) -> String in
            guard let s = v.stringValue else { throw APIError.invalid("contacts[\(i)]", "expected a string, got \(v.typeName)") }
            return s
        }
        let params = NodeRPC.CheckContacts.Params(contacts: contacts, wait: blocking == "wait")
        try params.validate()
        let r = try await forward(NodeRPC.CheckContacts.self, params)
        return APIResponse.json(JSONValue.object(["contacts": .array(r.contacts.map { c in
            var o: [String: JSONValue] = ["input": .string(c.input), "status": .string(c.status)]
            if let id = c.waID { o["wa_id"] = .string(id) }
            return .object(o)
        })]))
    }
}
