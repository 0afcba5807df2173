import Foundation
import Testing
@testable import WACore

@Suite("NodeConfig and DatabaseConfig")
struct NodeConfigTests {
    static let base: [String: String] = ["WA_DB_HOSTNAME": "127.0.0.1", "WA_DB_PORT": "6300", "WA_GATEWAY_ADDRESS": "127.0.0.1:7000",
                                         "WA_DB_PASSWORD": "db-password"]

    private func config(_ extra: [String: String], role: NodeRole = .coreapp, dropping: [String] = []) throws -> NodeConfig {
        var v = Self.base.merging(extra) { _, new in new }
        for k in dropping { v[k] = nil }
        return try NodeConfig.from(Environment(v), role: role)
    }

    /// The ConfigError a configuration raises (nil when it is accepted).
    private func configError(_ extra: [String: String], role: NodeRole = .coreapp, dropping: [String] = []) -> ConfigError? {
        do { _ = try config(extra, role: role, dropping: dropping); return nil }
        catch let e as ConfigError { return e }
        catch { Issue.record("not a ConfigError: \(error)"); return nil }
    }

    @Test func defaultsOfAMinimalCoreapp() throws {
        let c = try config([:])
        #expect(c.role == .coreapp)
        #expect(c.hostname == "wacore")
        #expect(c.externalHostname == "127.0.0.1")
        #expect(c.coreappPorts == [6250, 6251, 6252, 6253])
        #expect(c.controlPort == 6252)
        #expect(c.rpcAddress == HostPort(host: "127.0.0.1", port: 6252))
        #expect(c.webappPort == 9090)
        #expect(c.gatewayAddress == HostPort(host: "127.0.0.1", port: 7000))
        #expect(c.timeScale == .realTime)
        #expect(c.exitOnSuccess)
        #expect(c.apiKey == nil)
        #expect(c.peerOverridesFile == nil)
        #expect(c.database == DatabaseConfig(engine: .sqlite, hostname: "127.0.0.1", port: 6300, namePrefix: "wa", nodeKey: ClusterSecret(databasePassword: "db-password")))
        #expect(c.databasePoolSize == nil)
    }

    @Test func explicitValuesAreRead() throws {
        let c = try config([
            "COREAPP_HOSTNAME": "wacore2", "EXTERNAL_HOSTNAME": "node2.local",
            "COREAPP_EXTERNAL_PORTS": "7250, 7251,7252 ,7253", "WEBAPP_EXTERNAL_PORTS": "9091,9092",
            "WA_TIME_SCALE": "0.1", "EXIT_ON_SUCCESS": "false", "WA_API_KEY": "k", "WA_DB_NAME_PREFIX": "cluster",
            "WA_DB_ENGINE": "sqlite", "WA_PEER_OVERRIDES": "/tmp/p.json", "WA_DATA_DIR": "/tmp/d",
        ])
        #expect(c.hostname == "wacore2")
        #expect(c.rpcAddress == HostPort(host: "node2.local", port: 7252))
        #expect(c.coreappPorts == [7250, 7251, 7252, 7253])
        #expect(c.webappPort == 9091)
        #expect(c.timeScale.factor == 0.1)
        #expect(!c.exitOnSuccess)
        #expect(c.apiKey == "k")
        #expect(c.database.namePrefix == "cluster")
        #expect(c.database.engine == .sqlite)
        #expect(c.peerOverridesFile == "/tmp/p.json")
        #expect(c.dataDirectory == "/tmp/d")
    }

    @Test(arguments: [(NodeRole.webapp, "waweb"), (.master, "master"), (.coreapp, "wacore"), (.gateway, "gateway"), (.dbupgrade, "dbupgrade"), (.db, "db")])
    func defaultHostnamePerRole(_ role: NodeRole, _ name: String) throws {
        #expect(try config(["WA_DB_PATH": "/tmp/wa.db"], role: role).hostname == name)
    }

    @Test func theWebappReadsWebappHostname() throws {
        let c = try config(["WEBAPP_HOSTNAME": "waweb2", "COREAPP_HOSTNAME": "ignored"], role: .webapp)
        #expect(c.hostname == "waweb2")
    }

    @Test func unknownEngine() {
        let e = configError(["WA_DB_ENGINE": "ORACLE"])
        #expect(e?.code == .invalidValue)
        #expect(e?.variable == "WA_DB_ENGINE")
        #expect(e?.description == "error CONFIG_INVALID: WA_DB_ENGINE: unknown engine 'ORACLE'; use SQLITE, PGSQL or MYSQL")
    }

    @Test(arguments: Array("?{}&~!()^="))
    func everyForbiddenPasswordCharacterIsRefused(_ ch: Character) {
        #expect(DatabaseConfig.forbiddenPasswordCharacters.contains(ch))
        for engine in ["SQLITE", "PGSQL", "MYSQL"] {
            let e = configError(["WA_DB_ENGINE": engine, "WA_DB_HOSTNAME": "db", "WA_DB_USERNAME": "u", "WA_DB_PORT": "5432",
                                 "WA_DB_PASSWORD": "abc\(ch)def"])
            #expect(e?.code == .forbiddenCharacter, "\(engine)")
            #expect(e?.variable == "WA_DB_PASSWORD")
            #expect(e?.detail.contains("contains '\(ch)'") == true)
            #expect(e?.description.hasPrefix("error CONFIG_FORBIDDEN_CHARACTER: WA_DB_PASSWORD: contains '\(ch)'") == true)
        }
    }

    @Test func exactlyTenCharactersAreForbidden() {
        #expect(DatabaseConfig.forbiddenPasswordCharacters == Set("?{}&~!()^="))
    }

    @Test func otherSpecialCharactersAreAllowedInThePassword() throws {
        let c = try config(["WA_DB_ENGINE": "PGSQL", "WA_DB_HOSTNAME": "db", "WA_DB_USERNAME": "u", "WA_DB_PORT": "5432",
                            "WA_DB_PASSWORD": "P@ss#w$rd%*-_+.,:;<>/|[]"])
        #expect(c.database.engine == .pgsql)
        #expect(c.database.password == "P@ss#w$rd%*-_+.,:;<>/|[]")
        #expect(c.database.hostname == "db" && c.database.port == 5432 && c.database.username == "u")
        #expect(c.database.sqlitePath == nil)
    }

    @Test func theEmbeddedEngineNeedsAPasswordOrTheClusterSecret() throws {
        let e = configError([:], dropping: ["WA_DB_PASSWORD"])
        #expect(e?.variable == "WA_DB_PASSWORD" && e?.detail.contains("WA_CLUSTER_SECRET") == true)
        let c = try config(["WA_CLUSTER_SECRET": "0123456789abcdef0123"], dropping: ["WA_DB_PASSWORD"])
        #expect(c.database.nodeKey == (try ClusterSecret("0123456789abcdef0123")))
        #expect(c.clusterSecret == (try ClusterSecret("0123456789abcdef0123")))
        #expect(configError(["WA_CLUSTER_SECRET": "short"])?.variable == "WA_CLUSTER_SECRET")
    }

    @Test func listenersBindTheExternalAddressUnlessAsked() throws {
        #expect(try config(["EXTERNAL_HOSTNAME": "10.1.2.3"]).bindAddress == "10.1.2.3")
        #expect(try config(["EXTERNAL_HOSTNAME": "10.1.2.3", "WA_BIND_ADDRESS": "0.0.0.0"]).bindAddress == "0.0.0.0")
        #expect(configError(["WA_BIND_ADDRESS": "every interface"])?.variable == "WA_BIND_ADDRESS")
        #expect(configError(["WA_HTTP_REQUEST_TIMEOUT": "0"])?.variable == "WA_HTTP_REQUEST_TIMEOUT")
        #expect(configError(["WA_WEBAPP_MAX_CONNECTIONS": "-1"])?.variable == "WA_WEBAPP_MAX_CONNECTIONS")
    }

    @Test func theDBNodeNeedsWADBPathAndDefaultsItsAddress() throws {
        let e = configError([:], role: .db, dropping: ["WA_DB_HOSTNAME", "WA_DB_PORT"])
        #expect(e?.code == .missing)
        #expect(e?.variable == "WA_DB_PATH")
        #expect(e?.description.hasPrefix("error CONFIG_MISSING: WA_DB_PATH: is required for the db node") == true)
        let c = try config(["WA_DB_PATH": "/tmp/wa.db"], role: .db, dropping: ["WA_DB_HOSTNAME", "WA_DB_PORT"])
        #expect(c.database == DatabaseConfig(engine: .sqlite, sqlitePath: "/tmp/wa.db", hostname: "127.0.0.1",
                                             port: DatabaseConfig.defaultDBNodePort, namePrefix: "wa", nodeKey: ClusterSecret(databasePassword: "db-password")))
    }

    @Test func sqliteNodesNeedTheDBNodesAddress() {
        let e = configError(["WA_DB_PATH": "/tmp/wa.db"], dropping: ["WA_DB_HOSTNAME"])
        #expect(e?.code == .missing)
        #expect(e?.variable == "WA_DB_HOSTNAME")
        #expect(e?.detail.contains("through `wacluster db`") == true)
        #expect(e?.detail.contains("WA_DB_PATH is read only by `wacluster db`") == true)
        #expect(configError([:], dropping: ["WA_DB_PORT"])?.variable == "WA_DB_PORT")
        // The gateway has no database.
        #expect(configError([:], role: .gateway, dropping: ["WA_DB_HOSTNAME", "WA_DB_PORT"]) == nil)
    }

    @Test func theDBNodeServesOnlyTheEmbeddedEngine() {
        let e = configError(["WA_DB_ENGINE": "PGSQL", "WA_DB_USERNAME": "u", "WA_DB_PASSWORD": "p"], role: .db)
        #expect(e?.code == .unsupported)
        #expect(e?.variable == "WA_DB_ENGINE")
    }

    @Test(arguments: ["", "9abc", "a-b", "x;drop", String(repeating: "a", count: 41)])
    func aBadNamePrefixIsRefused(_ prefix: String) {
        let e = configError(["WA_DB_NAME_PREFIX": prefix])
        if prefix.isEmpty { return }   // an empty variable counts as unset
        #expect(e?.variable == "WA_DB_NAME_PREFIX")
    }

    @Test(arguments: ["0", "65", "x"])
    func aBadPoolSizeIsRefused(_ text: String) {
        #expect(configError(["WA_DB_MAX_CONNECTIONS": text])?.variable == "WA_DB_MAX_CONNECTIONS")
    }

    @Test(arguments: ["WA_DB_HOSTNAME", "WA_DB_USERNAME", "WA_DB_PASSWORD", "WA_DB_PORT"])
    func serverEnginesNeedHostUserPasswordAndPort(_ missing: String) {
        var v = ["WA_DB_ENGINE": "MYSQL", "WA_DB_HOSTNAME": "db", "WA_DB_USERNAME": "u", "WA_DB_PASSWORD": "p", "WA_DB_PORT": "3306"]
        v[missing] = nil
        let e = configError(v, dropping: [missing])
        #expect(e?.code == .missing)
        #expect(e?.variable == missing)
    }

    @Test(arguments: ["0", "65536", "abc", "-1"])
    func aBadDBPortIsRefused(_ port: String) {
        let e = configError(["WA_DB_ENGINE": "PGSQL", "WA_DB_HOSTNAME": "db", "WA_DB_USERNAME": "u", "WA_DB_PASSWORD": "p", "WA_DB_PORT": port])
        #expect(e?.code == .invalidValue)
        #expect(e?.variable == "WA_DB_PORT")
    }

    @Test(arguments: [NodeRole.master, .coreapp])
    func mastersAndCoreappsNeedTheGatewayAddress(_ role: NodeRole) {
        let e = configError([:], role: role, dropping: ["WA_GATEWAY_ADDRESS"])
        #expect(e?.code == .missing)
        #expect(e?.variable == "WA_GATEWAY_ADDRESS")
        #expect(e?.detail.contains("for a \(role.rawValue)") == true)
        let bad = configError(["WA_GATEWAY_ADDRESS": "nohost"], role: role)
        #expect(bad?.code == .invalidValue)
        #expect(bad?.variable == "WA_GATEWAY_ADDRESS")
    }

    @Test(arguments: [NodeRole.webapp, .gateway, .dbupgrade])
    func otherRolesDoNotNeedTheGatewayAddress(_ role: NodeRole) throws {
        let c = try config([:], role: role, dropping: ["WA_GATEWAY_ADDRESS"])
        #expect(c.gatewayAddress == nil)
    }

    @Test(arguments: ["6250,6251,6252", "6250,6251,6252,6253,6254", "a,b,c,d", "0,6251,6252,6253", "6250,6251,6252,70000", "6250,,6252,6253"])
    func badCoreappPorts(_ ports: String) {
        let e = configError(["COREAPP_EXTERNAL_PORTS": ports])
        #expect(e?.code == .invalidValue)
        #expect(e?.variable == "COREAPP_EXTERNAL_PORTS")
        #expect(e?.detail.contains("'\(ports)'") == true)
    }

    @Test(arguments: ["abc", "0", "65536", "x,9090"])
    func badWebappPort(_ port: String) {
        let e = configError(["WEBAPP_EXTERNAL_PORTS": port], role: .webapp)
        #expect(e?.code == .invalidValue)
        #expect(e?.variable == "WEBAPP_EXTERNAL_PORTS")
    }

    @Test(arguments: ["abc", "0", "-1", "101", "nan", "inf", "1e3", "0,1"])
    func badTimeScale(_ scale: String) {
        let e = configError(["WA_TIME_SCALE": scale])
        #expect(e?.code == .invalidValue)
        #expect(e?.variable == "WA_TIME_SCALE")
    }

    @Test(arguments: ["0.1", "1", "100", "0.05"])
    func goodTimeScale(_ scale: String) throws {
        #expect(try config(["WA_TIME_SCALE": scale]).timeScale.factor == Double(scale)!)
    }

    @Test func badHostnameAndExitOnSuccess() {
        #expect(configError(["COREAPP_HOSTNAME": "wa core"])?.variable == "COREAPP_HOSTNAME")
        #expect(configError(["WEBAPP_HOSTNAME": "web/1"], role: .webapp)?.variable == "WEBAPP_HOSTNAME")
        #expect(configError(["EXIT_ON_SUCCESS": "maybe"], role: .dbupgrade)?.variable == "EXIT_ON_SUCCESS")
    }

    @Test(arguments: [("TRUE", true), ("true", true), ("1", true), ("FALSE", false), ("0", false)])
    func exitOnSuccessValues(_ text: String, _ expected: Bool) throws {
        #expect(try config(["EXIT_ON_SUCCESS": text], role: .dbupgrade).exitOnSuccess == expected)
    }

    @Test func everyConfigErrorIsOneLineNamingItsVariable() {
        let cases: [[String: String]] = [
            ["WA_DB_ENGINE": "ORACLE"], ["WA_DB_PASSWORD": "a=b"], ["WA_TIME_SCALE": "fast"],
            ["COREAPP_EXTERNAL_PORTS": "1"], ["WEBAPP_EXTERNAL_PORTS": "x"], ["WA_GATEWAY_ADDRESS": "x"],
        ]
        for extra in cases {
            guard let e = configError(extra) else { Issue.record("accepted \(extra)"); continue }
            #expect(!e.description.contains("\n"))
            #expect(e.description.hasPrefix("error \(e.code.rawValue): \(e.variable): "))
            #expect(extra.keys.contains(e.variable))
        }
    }

    @Test func configErrorDescriptionFormat() {
        let e = ConfigError(.portInUse, variable: "COREAPP_EXTERNAL_PORTS", detail: "port 6252 is in use")
        #expect(e.description == "error PORT_IN_USE: COREAPP_EXTERNAL_PORTS: port 6252 is in use")
    }
}
