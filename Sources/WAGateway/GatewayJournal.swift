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

    public func record(_ event: String, _ fields: [String: Any]) {
        var obj: [String: JSONValue] = [:]
        for (k, v) in fields {
            switch v {
            case let s as String: obj[k] = .string(s)
            case let i as Int: obj[k] = .number(Double(i))
            case let d as Double: obj[k] = .number(d)
            case let b as Bool: obj[k] = .bool(b)
            default: obj[k] = .string("\(v)")
            }
        }
        var ts = timespec(); clock_gettime(CLOCK_REALTIME, &ts)
        obj["ts"] = .number(Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9)
        obj["logical"] = .number((clock.now.seconds * 1000).rounded() / 1000)
        obj["event"] = .string(event)
        sink.write(line: JSONCodec.data(.object(obj)))
    }
}
