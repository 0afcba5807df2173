import Foundation
import WACore

/// One line of `history.jsonl`: an operation of a client or of the nemesis, Jepsen style.
/// A client send is an `invoke` followed by one completion: `ok` (accepted, with its id),
/// `fail` (refused: certainly not accepted) or `info` (timed out or connection lost: it may or
/// may not have been accepted). A fault is an `invoke` and an `ok` of the `nemesis` process;
/// its heal is another nemesis operation naming the faults it ends in `heals`.
public struct HistoryOp: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case invoke, ok, fail, info }

    /// Position in the file, from 0.
    public var index: Int
    /// `client-N` or `nemesis`.
    public var process: String
    public var type: Kind
    /// The operation: `send`, or a fault or heal (`kill`, `pause`, `partition`, `resume`, `heal`, …).
    public var f: String
    /// Real unix seconds, and the same instant in logical seconds (real / time scale).
    public var ts: Double
    public var logical: Double
    public var shard: Int?
    public var recipient: String?
    /// HTTP status of the answer.
    public var status: Int?
    /// Error code and text of a refused or lost send, or why a fault failed.
    public var error: String?
    /// Message id of an accepted send.
    public var id: String?
    /// Idempotency key of a send (a retry after `info` reuses it).
    public var key: String?
    /// For nemesis operations: what was done, for people (`SIGKILL wacore1`).
    public var value: String?
    /// Nodes a fault acts on, and the shards whose owners it touched when it was injected.
    public var targets: [String]?
    public var shards: [Int]?
    /// A fault's id, and for a heal the ids of the faults it ends.
    public var faultID: Int?
    public var heals: [Int]?
    /// Line of the scenario step that did it.
    public var line: Int?

    public init(index: Int = 0, process: String, type: Kind, f: String, ts: Double, logical: Double) {
        self.index = index; self.process = process; self.type = type; self.f = f; self.ts = ts; self.logical = logical
    }

    enum CodingKeys: String, CodingKey {
        case index, process, type, f, ts, logical, shard, recipient, status, error, id, key, value, targets, shards, line, heals
        case faultID = "fault_id"
    }

    public var isNemesis: Bool { process == HistoryOp.nemesis }
    public static let nemesis = "nemesis"
}

/// Appends operations to `history.jsonl` as they happen, one line each, from any thread.
public final class HistoryRecorder: Sendable {
    private struct State {
        var next = 0
        var ops: [HistoryOp] = []
    }
    /// Also guards every use of `handle` and `encoder`.
    private let state = Locked(State())
    private let handle: FileHandle?
    public let scale: Double
    public let path: String

    public init(path: String, scale: Double) {
        self.path = path
        self.scale = scale
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        handle = FileHandle(forWritingAtPath: path)
    }

    /// Records an operation now (or at `at`), numbering it; returns what was written.
    @discardableResult
    public func record(_ process: String, _ type: HistoryOp.Kind, _ f: String, at: Double? = nil,
                       _ fill: (inout HistoryOp) -> Void = { _ in }) -> HistoryOp {
        let ts = at ?? Date().timeIntervalSince1970
        var op = HistoryOp(process: process, type: type, f: f, ts: ts, logical: ts / scale)
        fill(&op)
        return state.withLock { s in
            op.index = s.next
            s.next += 1
            s.ops.append(op)
            if var line = try? JSONCodec.encodedData(op) { line.append(0x0A); handle?.write(line) }
            return op
        }
    }

    /// Every operation so far, in order.
    public var operations: [HistoryOp] { state.withLock { $0.ops } }

    public func close() { state.withLock { _ in try? handle?.close() } }

    /// Reads a saved history; the error names the line that is not an operation.
    public static func read(path: String) throws -> [HistoryOp] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var out: [HistoryOp] = []
        for (n, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            do { out.append(try JSONCodec.decode(HistoryOp.self, from: Data(line.utf8))) }
            catch { throw RunRecordError("\(path):\(n + 1): not a history operation (\(error))") }
        }
        return out
    }
}
