import Foundation

/// The session's node logs merged in time order, as `docker-compose logs > debug_output.txt`
/// gathers a real cluster's: each line prefixed with its node, ordered by the `ts` every node
/// writes; a line without one (a crash's last words) keeps its place after the line before it.
public enum NodeLogs {
    public struct Line: Sendable, Equatable {
        public var node: String
        public var ts: Double
        public var text: String
    }

    /// The nodes whose logs a session folder holds (`NAME.log`), sorted.
    public static func nodes(in directory: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return files.filter { $0.hasSuffix(".log") && !$0.hasPrefix("run-line-") && $0 != "session.log" }.map { String($0.dropLast(4)) }.sorted()
    }

    /// Every line of `logs` (node → its log text), merged. Stable: equal times keep node order.
    public static func merge(_ logs: [(node: String, text: String)]) -> [Line] {
        var all: [(Line, Int)] = []
        var order = 0
        for (node, text) in logs {
            var last = 0.0
            for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
                let ts = timestamp(raw) ?? last
                last = ts
                all.append((Line(node: node, ts: ts, text: String(raw)), order))
                order += 1
            }
        }
        return all.sorted { $0.0.ts != $1.0.ts ? $0.0.ts < $1.0.ts : $0.1 < $1.1 }.map(\.0)
    }

    /// `node | 2026-12-03T17:02:11.123Z | line`, the prefix padded to the longest node name.
    public static func render(_ lines: [Line]) -> String {
        let width = lines.map(\.node.count).max() ?? 0
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return lines.map { "\($0.node.padding(toLength: width, withPad: " ", startingAt: 0)) | \(f.string(from: Date(timeIntervalSince1970: $0.ts))) | \($0.text)" }
            .joined(separator: "\n") + (lines.isEmpty ? "" : "\n")
    }

    /// The `"ts":…` of a JSON log line, read without parsing the whole line.
    static func timestamp(_ line: Substring) -> Double? {
        guard let r = line.range(of: "\"ts\":") else { return nil }
        let rest = line[r.upperBound...].prefix { $0.isNumber || $0 == "." || $0 == "e" || $0 == "-" || $0 == "+" }
        return Double(rest)
    }
}
