import Foundation
import Testing
@testable import WACore

@Suite("NodeIdentity")
struct NodeIdentityTests {
    func tempDir() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("nodeid-\(UUID().uuidString)").path
    }

    @Test func createsTwelveHexDigitsAndKeepsThem() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let id = try NodeIdentity.loadOrCreate(dataDirectory: dir)
        #expect(id.count == 12 && id.allSatisfy(\.isHexDigit))
        #expect(try NodeIdentity.loadOrCreate(dataDirectory: dir) == id)
        #expect(try NodeIdentity.loadOrCreate(dataDirectory: tempDir() + "/other") != id)
    }

    @Test func aDamagedIdFileIsReplaced() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "not-an-id\n".write(toFile: dir + "/node_id", atomically: true, encoding: .utf8)
        let id = try NodeIdentity.loadOrCreate(dataDirectory: dir)
        #expect(id.count == 12 && id.allSatisfy(\.isHexDigit))
        try "0123456789ab\n".write(toFile: dir + "/node_id", atomically: true, encoding: .utf8)
        #expect(try NodeIdentity.loadOrCreate(dataDirectory: dir) == "0123456789ab")
    }
}
