import Foundation
import Testing
import WATestKit

/// Bad configuration fails at start with one clear line and a non-zero exit.
@Suite struct StartupErrorTests {
    func run(_ args: [String], env: [String: String]) throws -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(BinaryLocator.wacluster()))
        p.arguments = args
        p.environment = env.merging(["PATH": "/usr/bin:/bin", "WA_DATA_DIR": NSTemporaryDirectory() + "wacluster-startup"]) { a, _ in a }
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    @Test(arguments: Array("?{}&~!()^="))
    func forbiddenPasswordCharacter(_ ch: Character) throws {
        let r = try run(["coreapp"], env: ["WA_DB_ENGINE": "PGSQL", "WA_DB_PASSWORD": "pa\(ch)ss", "WA_DB_HOSTNAME": "db",
                                           "WA_DB_USERNAME": "u", "WA_DB_PORT": "5432", "WA_GATEWAY_ADDRESS": "127.0.0.1:1"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("WA_DB_PASSWORD") && r.stderr.contains("'\(ch)'"))
        #expect(r.stderr.split(separator: "\n").count == 1, "one clear line: \(r.stderr)")
    }

    @Test func unknownEngine() throws {
        let r = try run(["master"], env: ["WA_DB_ENGINE": "ORACLE", "WA_GATEWAY_ADDRESS": "127.0.0.1:1"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("WA_DB_ENGINE") && r.stderr.contains("ORACLE"))
    }

    @Test func missingRequiredVariables() throws {
        let noPath = try run(["webapp"], env: [:])
        #expect(noPath.status != 0 && noPath.stderr.contains("WA_DB_PATH"))
        let noGateway = try run(["coreapp"], env: ["WA_DB_PATH": NSTemporaryDirectory() + "x.db"])
        #expect(noGateway.status != 0 && noGateway.stderr.contains("WA_GATEWAY_ADDRESS"))
    }

    @Test func portInUse() throws {
        // Hold a port, then ask a coreapp to listen on it.
        let port = PortAllocator.freePorts(1)[0]
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in(); addr.sin_family = sa_family_t(AF_INET); addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 1)
        let db = NSTemporaryDirectory() + "wacluster-port-\(port).db"
        let r = try run(["coreapp"], env: ["WA_DB_PATH": db, "WA_GATEWAY_ADDRESS": "127.0.0.1:1", "COREAPP_EXTERNAL_PORTS": "1,2,\(port),3"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("PORT_IN_USE") && r.stderr.contains("\(port)"))
        let w = try run(["webapp"], env: ["WA_DB_PATH": db, "WEBAPP_EXTERNAL_PORTS": "\(port)"])
        #expect(w.status != 0 && w.stderr.contains("PORT_IN_USE"))
    }

    @Test func dbupgradeMigratesAndExitsZero() throws {
        let db = NSTemporaryDirectory() + "wacluster-dbupgrade-\(UUID().uuidString.prefix(6)).db"
        let r = try run(["dbupgrade"], env: ["WA_DB_PATH": db])
        #expect(r.status == 0, "\(r.stderr)")
        let again = try run(["dbupgrade"], env: ["WA_DB_PATH": db])
        #expect(again.status == 0)
    }
}
