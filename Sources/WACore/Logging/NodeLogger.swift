import Foundation
import Logging
import Synchronization

/// Writes one JSON object per line: `{"ts":…,"logical":…,"node":…,"level":…,"event":…,"msg":…, …}`.
/// Every node has one logger labelled with its name; the chaos runner reads these lines to
/// timestamp events (role changes, leases, promotions, gateway connections).
public struct JSONLineLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let node: String
    let clock: any ClusterClock
    let sink: LineSink

    public init(node: String, clock: any ClusterClock, sink: LineSink = .standardOutput) {
        self.node = node; self.clock = clock; self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] } set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: JSONValue] = [:]
        for (k, v) in metadata { fields[k] = Self.plain(v) }
        for (k, v) in event.metadata ?? [:] { fields[k] = Self.plain(v) }
        var ts = timespec(); clock_gettime(CLOCK_REALTIME, &ts)
        fields["ts"] = .number(Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9)
        fields["logical"] = .number((clock.now.seconds * 1000).rounded() / 1000)
        fields["node"] = .string(node)
        fields["level"] = .string(event.level.rawValue)
        fields["msg"] = .string(event.message.description)
        if fields["event"] == nil { fields["event"] = .string("log") }
        sink.write(line: JSONCodec.data(.object(fields)))
    }

    static func plain(_ v: Logger.MetadataValue) -> JSONValue {
        switch v {
        case .string(let s): .string(s)
        case .stringConvertible(let c): .string(c.description)
        case .array(let a): .array(a.map(plain))
        case .dictionary(let d): .object(d.mapValues(plain))
        }
    }
}

/// A thread-safe line writer. Unbuffered sinks write each line at once, so a SIGKILL loses
/// nothing written (node logs). A buffered sink (the gateway's journal, several lines per
/// message) gathers lines and writes them every `flushInterval` seconds or 64 KiB.
public final class LineSink: Sendable {
    private struct State {
        var buffer = Data()
        var timer: DispatchSourceTimer?
    }
    // Guards writes to `handle` too. Mutex, not Locked: DispatchSourceTimer is not Sendable.
    private let state = Mutex(State())
    private let handle: FileHandle
    public init(handle: FileHandle) { self.handle = handle }

    /// Makes this sink buffered, flushing at least every `flushInterval` real seconds.
    public func buffered(flushInterval: Double) -> LineSink {
        state.withLock { s in // made inside the closure so that it may belong to the state; nothing blocks here
            let t = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "linesink.flush"))
            t.schedule(deadline: .now() + flushInterval, repeating: flushInterval)
            t.setEventHandler { [weak self] in self?.flush() }
            s.timer = t
            t.resume()
        }
        return self
    }

    public func flush() {
        state.withLock { s in
            guard !s.buffer.isEmpty else { return }
            handle.write(s.buffer)
            s.buffer.removeAll(keepingCapacity: true)
        }
    }
    public static let standardOutput = LineSink(handle: .standardOutput)
    public static func file(atPath path: String) throws -> LineSink {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let h = FileHandle(forWritingAtPath: path) else {
            throw ConfigError(.invalidValue, variable: "log file", detail: "cannot open \(path) for writing")
        }
        h.seekToEndOfFile()
        return LineSink(handle: h)
    }
    public func write(line: Data) {
        state.withLock { s in
            if s.timer == nil {
                var d = line; d.append(0x0A)
                handle.write(d)
                return
            }
            s.buffer.append(line)
            s.buffer.append(0x0A)
            if s.buffer.count >= 64 * 1024 {
                handle.write(s.buffer)
                s.buffer.removeAll(keepingCapacity: true)
            }
        }
    }
}

extension Logger {
    /// Logs a structured event: `event` names it for machines, `message` is for people.
    public func event(_ name: String, _ message: @autoclosure () -> String, _ fields: [String: String] = [:],
                      level: Logger.Level = .info) {
        var md: Logger.Metadata = ["event": .string(name)]
        for (k, v) in fields { md[k] = .string(v) }
        log(level: level, "\(message())", metadata: md)
    }

    /// The logger of one node, writing JSON lines to standard output.
    public static func node(_ name: String, clock: any ClusterClock, sink: LineSink = .standardOutput) -> Logger {
        var l = Logger(label: name) { _ in JSONLineLogHandler(node: name, clock: clock, sink: sink) }
        l.logLevel = .info
        return l
    }
}
