import Foundation
import Testing
import WATestKit

/// Bad configuration fails at start with one clear line and a non-zero exit.
@Suite struct StartupErrorTests {
    func run(_ args: [String], env: [String: String]) throws -> (status: Int32, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try #require(BinaryLocator.wacluster()))
        p.arguments = args
        p.environment = env.merging(["PATH": "/usr/bin:/bin", "WA_DATA_DIR": NSTemporaryDirectory() + "wacluster-startup",
                                     "WA_DB_PASSWORD": "startup-test"]) { a, _ in a }.filter { !$0.value.isEmpty }
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

    /// What a node of the embedded engine needs to find the db node.
    static let dbNode = ["WA_DB_HOSTNAME": "127.0.0.1", "WA_DB_PORT": "1"]

    @Test func missingRequiredVariables() throws {
        let noDB = try run(["webapp"], env: [:])
        #expect(noDB.status != 0 && noDB.stderr.contains("WA_DB_HOSTNAME") && noDB.stderr.contains("wacluster db"), "\(noDB.stderr)")
        let noPassword = try run(["coreapp"], env: Self.dbNode.merging(["WA_GATEWAY_ADDRESS": "127.0.0.1:1", "WA_DB_PASSWORD": ""]) { a, _ in a })
        #expect(noPassword.status != 0 && noPassword.stderr.contains("WA_DB_PASSWORD") && noPassword.stderr.contains("WA_CLUSTER_SECRET"), "\(noPassword.stderr)")
        let shortSecret = try run(["coreapp"], env: Self.dbNode.merging(["WA_GATEWAY_ADDRESS": "127.0.0.1:1", "WA_CLUSTER_SECRET": "short"]) { a, _ in a })
        #expect(shortSecret.status != 0 && shortSecret.stderr.contains("WA_CLUSTER_SECRET"), "\(shortSecret.stderr)")
        let noPath = try run(["db"], env: [:])
        #expect(noPath.status != 0 && noPath.stderr.contains("WA_DB_PATH"))
        let noGateway = try run(["coreapp"], env: Self.dbNode)
        #expect(noGateway.status != 0 && noGateway.stderr.contains("WA_GATEWAY_ADDRESS"))
        let serverEngine = try run(["db"], env: ["WA_DB_ENGINE": "PGSQL", "WA_DB_HOSTNAME": "h", "WA_DB_PORT": "5432", "WA_DB_PATH": "/tmp/x.db"])
        #expect(serverEngine.status != 0 && serverEngine.stderr.contains("CONFIG_UNSUPPORTED"))
    }

    @Test func portInUse() throws {
        // Hold a port, then ask a coreapp, a webapp and a db node to listen on it.
        let port = PortAllocator.freePorts(1)[0]
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in(); addr.sin_family = sa_family_t(AF_INET); addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(fd, 1)
        let r = try run(["coreapp"], env: Self.dbNode.merging(["WA_GATEWAY_ADDRESS": "127.0.0.1:1", "COREAPP_EXTERNAL_PORTS": "1,2,\(port),3"]) { a, _ in a })
        #expect(r.status != 0)
        #expect(r.stderr.contains("PORT_IN_USE") && r.stderr.contains("\(port)"))
        let w = try run(["webapp"], env: Self.dbNode.merging(["WEBAPP_EXTERNAL_PORTS": "\(port)"]) { a, _ in a })
        #expect(w.status != 0 && w.stderr.contains("PORT_IN_USE"))
        let d = try run(["db"], env: ["WA_DB_PATH": NSTemporaryDirectory() + "wacluster-port-\(port).db", "WA_DB_PORT": "\(port)"])
        #expect(d.status != 0 && d.stderr.contains("PORT_IN_USE") && d.stderr.contains("WA_DB_PORT"))
    }

    @Test func dbupgradeWithoutAReachableDatabaseFailsWithOneLine() throws {
        let r = try run(["dbupgrade"], env: Self.dbNode)
        #expect(r.status != 0)
        #expect(r.stderr.contains("DB_UNAVAILABLE") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
    }
}
