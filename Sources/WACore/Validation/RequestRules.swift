import Foundation

/// The rules every entry point applies to what a client asks for: the REST API and node RPC
/// call the same functions, so a request that bypasses the webapp (straight to an owner's RPC
/// port) meets the same checks, and the owner applies them once more before anything goes to
/// the WhatsApp server. Each failure is the documented 400 naming the field.
public enum RequestRules {
    /// The product's limit for `text.body`, in characters.
    public static let maxTextBodyCharacters = 4096
    public static let maxIdempotencyKeyLength = 128
    public static let recipientDigits = 5...20
    public static let maxCertLength = 4096
    /// Contacts one `POST /v1/contacts` may check.
    public static let maxContactsPerRequest = 1000

    /// ASCII 0-9 only: the product's rule. `Character.isNumber` also takes '½', Roman numerals
    /// and Arabic-Indic digits, which no phone number contains.
    public static func isASCIIDigits<S: StringProtocol>(_ s: S) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// A WhatsApp id as sent (an optional leading `+`) → the digits the cluster stores and routes by.
    public static func recipient(_ to: String, field: String = "to") throws(APIError) -> String {
        var s = Substring(to)
        if s.hasPrefix("+") { s.removeFirst() }
        guard recipientDigits.contains(s.utf8.count), isASCIIDigits(s) else {
            throw APIError.invalid(field, "a WhatsApp id: \(recipientDigits.lowerBound) to \(recipientDigits.upperBound) digits 0-9, optionally with a leading +")
        }
        return String(s)
    }

    public static func textBody(_ body: String, field: String = "text.body") throws(APIError) {
        guard !body.isEmpty else { throw APIError.missing(field) }
        // Unicode scalars, as JSON Schema's maxLength counts them.
        let n = body.unicodeScalars.count
        guard n <= maxTextBodyCharacters else {
            throw APIError(.messageTooLong, "\(field) has \(n) characters; the limit is \(maxTextBodyCharacters)", status: 400)
        }
    }

    /// 1 to 128 printable ASCII characters (`scoped`: as node RPC carries it, `user/key`, so up
    /// to a username and a slash longer).
    public static func idempotencyKey(_ key: String?, scoped: Bool = false) throws(APIError) {
        guard let key else { return }
        let limit = maxIdempotencyKeyLength + (scoped ? 33 : 0)
        guard (1...limit).contains(key.utf8.count), key.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw APIError.invalid(scoped ? "idempotencyKey" : "Idempotency-Key", "1 to \(maxIdempotencyKeyLength) printable ASCII characters without spaces")
        }
    }

    public static func number(cc: String, phone: String, pin: String?) throws(APIError) {
        guard (1...3).contains(cc.utf8.count), isASCIIDigits(cc) else { throw APIError.invalid("cc", "a country code of 1 to 3 digits 0-9, e.g. \"1\"") }
        guard (4...15).contains(phone.utf8.count), isASCIIDigits(phone) else {
            throw APIError.invalid("phone_number", "4 to 15 digits 0-9, without the country code or '+'")
        }
        if let pin, !(pin.utf8.count == 6 && isASCIIDigits(pin)) { throw APIError.invalid("pin", "a 6-digit PIN (digits 0-9)") }
    }

    public static func method(_ m: String) throws(APIError) {
        guard m == "sms" || m == "voice" else { throw APIError.invalid("method", "must be \"sms\" or \"voice\"") }
    }

    /// A base64 certificate: non-empty, at most 4096 characters of the base64 alphabet.
    public static func cert(_ c: String) throws(APIError) {
        guard !c.isEmpty else { throw APIError.missing("cert") }
        guard c.utf8.count <= maxCertLength, c.utf8.allSatisfy({ b in
            (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2B || b == 0x2F || b == 0x3D
        }) else { throw APIError.invalid("cert", "the base64 certificate from the WhatsApp Business Manager (at most \(maxCertLength) characters)") }
    }

    /// The registration code: six digits 0-9, or `123-456`. Returns the digits.
    public static func code(_ c: String) throws(APIError) -> String {
        let u = Array(c.utf8)
        let digits: String
        if u.count == 6 { digits = c } else if u.count == 7, u[3] == UInt8(ascii: "-") { digits = c.replacingOccurrences(of: "-", with: "") } else { digits = "" }
        guard digits.utf8.count == 6, isASCIIDigits(digits) else {
            throw APIError.invalid("code", "the 6-digit code (digits 0-9, optionally written 123-456) sent by SMS or voice")
        }
        return digits
    }

    public static func shards(_ n: Int) throws(APIError) {
        guard ShardRouter.validShardCounts.contains(n) else {
            throw APIError.invalid("shards", "must be one of \(ShardRouter.validShardCounts.map(String.init).joined(separator: ", ")), got \(n)")
        }
    }

    /// Usernames: 4 to 32 of ASCII letters, digits, '_', '-' or '.'; unique regardless of case.
    public static func username(_ name: String) throws(APIError) {
        guard (4...32).contains(name.utf8.count), name.utf8.allSatisfy({ b in
            (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x5F || b == 0x2D || b == 0x2E
        }) else { throw APIError.invalid("username", "4 to 32 ASCII letters, digits, '_', '-' or '.'") }
    }
}

/// Frame and line limits, one set for every layer: the webapp refuses what RPC would refuse,
/// RPC refuses what the gateway would refuse, and the owner checks a message against the
/// gateway's limit before sending, so no stored message can break a session.
public enum WireLimits {
    /// The WhatsApp server simulator's longest frame.
    public static let gatewayFrameBytes = 1 << 20
    /// A node RPC request: a send_message with the longest body, JSON-escaped, fits with room.
    public static let nodeRPCRequestBytes = 64 << 10
    /// A db node request (a batch of accepted messages at most).
    public static let storeRequestBytes = 8 << 20
    /// An answer a node reads (a db node answer holding a page of pending messages).
    public static let answerBytes = 32 << 20
    /// Requests one RPC connection may have in flight before the server stops reading it.
    public static let rpcInFlightPerConnection = 64
    /// Connections one RPC listener holds at most; the next is told why and closed.
    public static let rpcConnectionsPerListener = 512
    /// An RPC connection that has not proved the cluster secret within this many real seconds is closed.
    public static let rpcAuthTimeout = 10.0
}

/// Idempotency keys belong to the user who sent them: the stored key is `user/key` (usernames
/// cannot contain '/', and are folded to lower case as they are unique regardless of case).
public enum IdempotencyScope {
    public static func key(user: String, key: String) -> String { "\(user.lowercased())/\(key)" }
}

/// What a message carries. Text has its body as it is; a template (and the older `hsm` form)
/// carries the template object as a JSON document, checked here and delivered like text.
public enum MessageKind: String, Codable, Sendable, CaseIterable {
    case text, template, hsm

    /// The REST field that holds the content of this kind.
    public var field: String { rawValue }
}

extension RequestRules {
    /// A message's content as stored and sent: text by the text rules; a template document no
    /// longer than a text may be, and an object.
    public static func content(_ body: String, kind: MessageKind) throws(APIError) {
        switch kind {
        case .text: try textBody(body)
        case .template, .hsm:
            guard !body.isEmpty else { throw APIError.missing(kind.field) }
            let n = body.unicodeScalars.count
            guard n <= maxTextBodyCharacters else {
                throw APIError(.messageTooLong, "\(kind.field) is \(n) characters as JSON; the limit is \(maxTextBodyCharacters)", status: 400)
            }
            guard (try? JSONCodec.parse(Data(body.utf8)))?.objectValue != nil else {
                throw APIError.invalid(kind.field, "expected a JSON object")
            }
        }
    }

    /// A template message as the product takes it (`type: template`): namespace, name, a
    /// language with a code (and a policy), and optional components. Returns the object as sent.
    public static func template(_ value: JSONValue?) throws(APIError) -> JSONValue {
        let (whole, o) = try templateHead(value, field: "template", nameKey: "name", listKey: "components")
        if let c = o["components"] {
            guard let list = c.arrayValue else { throw APIError.invalid("template.components", "expected an array") }
            for (i, item) in list.enumerated() {
                guard let comp = item.objectValue, let t = comp["type"]?.stringValue,
                      ["header", "body", "footer", "button"].contains(t.lowercased()) else {
                    throw APIError.invalid("template.components[\(i)]", "expected an object with type header, body, footer or button")
                }
                if let p = comp["parameters"], p.arrayValue == nil { throw APIError.invalid("template.components[\(i)].parameters", "expected an array") }
            }
        }
        return whole
    }

    /// The older template form (`type: hsm`): namespace, element_name, language and localizable_params.
    public static func hsm(_ value: JSONValue?) throws(APIError) -> JSONValue {
        let (whole, o) = try templateHead(value, field: "hsm", nameKey: "element_name", listKey: "localizable_params")
        if let p = o["localizable_params"], p.arrayValue == nil { throw APIError.invalid("hsm.localizable_params", "expected an array") }
        return whole
    }

    /// What both template forms share: an object of known keys with a namespace, a name (under
    /// `nameKey`) of 1 to 512 characters and a language; the list under `listKey` is the caller's.
    static func templateHead(_ value: JSONValue?, field: String, nameKey: String, listKey: String) throws(APIError)
        -> (value: JSONValue, fields: [String: JSONValue]) {
        guard let value else { throw APIError.missing(field) }
        guard let o = value.objectValue else { throw APIError.invalid(field, "expected an object with namespace, \(nameKey), language and \(listKey)") }
        try onlyKnownKeys(o, ["namespace", nameKey, "language", listKey], in: field)
        for k in ["namespace", nameKey] {
            guard let s = o[k]?.stringValue else { throw o[k] == nil ? APIError.missing("\(field).\(k)") : APIError.invalid("\(field).\(k)", "expected a string") }
            guard (1...512).contains(s.unicodeScalars.count) else { throw APIError.invalid("\(field).\(k)", "1 to 512 characters") }
        }
        try language(o["language"], in: field)
        return (value, o)
    }

    static func language(_ value: JSONValue?, in parent: String) throws(APIError) {
        guard let value else { throw APIError.missing("\(parent).language") }
        guard let o = value.objectValue else { throw APIError.invalid("\(parent).language", "expected {\"code\": \"en\", \"policy\": \"deterministic\"}") }
        try onlyKnownKeys(o, ["code", "policy"], in: "\(parent).language")
        guard let code = o["code"]?.stringValue, (2...16).contains(code.unicodeScalars.count) else {
            throw o["code"] == nil ? APIError.missing("\(parent).language.code") : APIError.invalid("\(parent).language.code", "a language code such as \"en\" or \"en_US\"")
        }
        if let p = o["policy"], !(p.stringValue == "deterministic" || p.stringValue == "fallback") {
            throw APIError.invalid("\(parent).language.policy", "must be \"deterministic\" or \"fallback\"")
        }
    }

    static func onlyKnownKeys(_ o: [String: JSONValue], _ known: Set<String>, in parent: String) throws(APIError) {
        if let unknown = o.keys.sorted().first(where: { !known.contains($0) }) {
            throw APIError.invalid("\(parent).\(unknown)", "unknown field")
        }
    }

    /// A contact as the client gives it ("+1 (631) 555-1002"): the WhatsApp id it names (its
    /// digits), or nil when it cannot be a phone number.
    public static func contactID(_ input: String) -> String? {
        var digits = ""
        for (i, ch) in input.unicodeScalars.enumerated() {
            switch ch {
            case "0"..."9": digits.unicodeScalars.append(ch)
            case "+" where i == 0, " ", "-", "(", ")", ".": continue
            default: return nil
            }
        }
        return recipientDigits.contains(digits.utf8.count) ? digits : nil
    }
}
