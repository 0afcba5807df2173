import Foundation
import WACore

/// The gateway's JSON-lines record of connections and frames: what checkers read to prove no
/// loss, no duplicate and no conflict. One object per line with `ts` (unix seconds),
/// `logical` and `event` (connect, disconnect, refused, conflict, message, ack, status,
/// ping_timeout, verification_code, registered, cert_rejected).
public final class GatewayJournal: Sendable {
    private let sink: LineSink
    public func flush() { sink.flush() }
    private let clock: any ClusterClock
    public init(sink: LineSink, clock: any ClusterClock) { self.sink = sink; self.clock = clock }

    /// One line, keys sorted (as `JSONCodec` writes objects). Written straight from the
    /// pairs: the dictionary of `Any` it used to build was a fifth of the gateway's CPU under
    /// the message benchmark (perf).
    public func record(_ event: String, _ fields: KeyValuePairs<String, Any>) {
        var ts = timespec(); clock_gettime(CLOCK_REALTIME, &ts)
        var members: [(key: String, value: JSONValue)] = []
        members.reserveCapacity(fields.count + 3)
        for (k, v) in fields { members.append((k, Self.value(v))) }
        members.append(("ts", .number(Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9)))
        members.append(("logical", .number((clock.now.seconds * 1000).rounded() / 1000)))
        members.append(("event", .string(event)))
        members.sort { $0.key < $1.key }
        var line: [UInt8] = []
        line.reserveCapacity(192)
        JSONCodec.writeObject(members, into: &line)
        sink.write(line: Data(line))
    }

    static func value(_ v: Any) -> JSONValue {
        switch v {
        case let s as String: .string(s)
        case let i as Int: .number(Double(i))
        case let d as Double: .number(d)
        case let b as Bool: .bool(b)
        default: .string("\(v)")
        }
    }
}
