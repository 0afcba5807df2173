import Foundation
import Logging
import Testing
@testable import WACore

@Suite("JSON line logger")
struct NodeLoggerTests {
    @Test func eventsAreOneJSONObjectPerLine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("log-\(UUID().uuidString).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let clock = ManualClock(start: .init(seconds: 123.4567))
        let logger = Logger.node("wacore1", clock: clock, sink: try LineSink.file(atPath: path))
        logger.event("promotion", "promoted wacore1", ["shard": "0"])
        logger.info("plain line")
        logger.debug("below the level")
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["event"] as? String == "promotion")
        #expect(first["msg"] as? String == "promoted wacore1")
        #expect(first["node"] as? String == "wacore1")
        #expect(first["shard"] as? String == "0")
        #expect(first["level"] as? String == "info")
        #expect(first["logical"] as? Double == 123.457)
        #expect(first["ts"] is Double)
        let second = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(second["event"] as? String == "log")
    }
}
