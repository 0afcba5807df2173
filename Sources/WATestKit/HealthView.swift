import Foundation
import WACore

/// A parsed `/v1/health` answer, keyed by hostname (ids normalised away).
public struct HealthView: Sendable, Equatable, CustomStringConvertible {
    public struct Entry: Sendable, Equatable {
        public var nodeID: String
        public var status: String?
        public var role: String?
        public var errorCode: Int?
        public var errorDetails: String?
    }
    public var entries: [String: Entry]
    public let raw: JSONValue

    public init?(_ json: JSONValue) {
        guard let health = json["health"]?.objectValue else { return nil }
        raw = json
        var out: [String: Entry] = [:]
        for (key, value) in health {
            let parts = key.split(separator: ":", maxSplits: 1).map(String.init)
            let error = value["errors"].flatMap { if case .array(let a) = $0 { a.first } else { nil } }
            out[parts[0]] = Entry(nodeID: parts.count > 1 ? parts[1] : "", status: value["gateway_status"]?.stringValue,
                                  role: value["role"]?.stringValue, errorCode: error?["code"]?.intValue,
                                  errorDetails: error?["details"]?.stringValue)
        }
        entries = out
    }

    public subscript(_ host: String) -> Entry? { entries[host] }
    public func hosts(status: String, role: String? = nil) -> [String] {
        entries.filter { $0.value.status == status && (role == nil || $0.value.role == role) }.map(\.key).sorted()
    }
    public var description: String {
        entries.keys.sorted().map { k in
            let e = entries[k]!
            return e.errorCode.map { "\(k)=error\($0)" } ?? "\(k)=\(e.status ?? "?")/\(e.role ?? "?")"
        }.joined(separator: " ")
    }

    /// The health JSON with every `host:id` key rewritten to `host:<id>`: what goldens store.
    public func normalized() -> JSONValue {
        guard case .object(var top) = raw, case .object(let h)? = top["health"] else { return raw }
        var out: [String: JSONValue] = [:]
        for (k, v) in h {
            var entry = v
            // Unreachable details carry timings and socket errors: keep only their first clause.
            if case .object(var o) = v, case .array(var errs)? = o["errors"], case .object(var e)? = errs.first,
               let d = e["details"]?.stringValue, d.contains(" is unreachable") {
                e["details"] = .string(String(d.prefix(while: { $0 != ":" })))
                errs[0] = .object(e); o["errors"] = .array(errs); entry = .object(o)
            }
            out[String(k.split(separator: ":").first ?? "") + ":<id>"] = entry
        }
        top["health"] = .object(out)
        return .object(top)
    }
}
