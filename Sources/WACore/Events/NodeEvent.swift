import Foundation

/// One structured event line of a node's log.
public struct NodeEvent: Sendable, Equatable {
    /// Real unix time, logical time, node name, event name and its string fields.
    public var ts: Double
    public var logical: Double
    public var node: String
    public var event: String
    public var fields: [String: String]
    public var message: String { fields["msg"] ?? "" }
    /// The line as a typed cluster event, when it is one.
    public var typed: ClusterEvent? { ClusterEvent(name: event, fields: fields) }
    public init(ts: Double, logical: Double, node: String, event: String, fields: [String: String]) {
        self.ts = ts; self.logical = logical; self.node = node; self.event = event; self.fields = fields
    }

    /// Parses the JSON lines of a node log; non-JSON lines (a crash trace) are skipped.
    public static func parse(log text: String) -> [NodeEvent] {
        text.split(separator: "\n").compactMap { line in
            guard line.first == "{", let obj = (try? JSONCodec.parse(Data(line.utf8)))?.objectValue,
                  let event = obj["event"]?.stringValue else { return nil }
            var fields: [String: String] = [:]
            for (k, v) in obj where k != "ts" && k != "logical" && k != "event" && k != "node" { fields[k] = fieldText(v) }
            return NodeEvent(ts: obj["ts"]?.numberValue ?? 0, logical: obj["logical"]?.numberValue ?? 0,
                             node: obj["node"]?.stringValue ?? "", event: event, fields: fields)
        }
    }

    /// A field as text: strings as they are, numbers as written (`3`, `0.5`), anything else as JSON.
    private static func fieldText(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): s
        case .number(let n): n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : "\(n)"
        case .bool(let b): b ? "true" : "false"
        default: String(decoding: JSONCodec.data(v), as: UTF8.self)
        }
    }

    public static func read(file: String) -> [NodeEvent] {
        guard let data = FileManager.default.contents(atPath: file) else { return [] }
        return parse(log: String(decoding: data, as: UTF8.self))
    }
}

