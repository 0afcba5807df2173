import Foundation
import Testing
@testable import WACore

@Suite("Environment and env files")
struct EnvironmentTests {
    @Test func parsesCommentsBlankLinesExportAndQuotes() throws {
        let text = """
        # the DB
        WA_DB_ENGINE=SQLITE

           export WA_DB_PATH = /tmp/wa.db
        WA_DB_PASSWORD="pa ss"
        WA_DB_USERNAME='root'
        EMPTY=
        WITH_EQUALS=a=b=c
          # indented comment
        HALF_QUOTED="abc
        """
        let env = try Environment.parseEnvText(text, file: "db.env")
        #expect(env == [
            "WA_DB_ENGINE": "SQLITE",
            "WA_DB_PATH": "/tmp/wa.db",
            "WA_DB_PASSWORD": "pa ss",
            "WA_DB_USERNAME": "root",
            "EMPTY": "",
            "WITH_EQUALS": "a=b=c",
            "HALF_QUOTED": "\"abc",
        ])
    }

    @Test func laterLinesWin() throws {
        #expect(try Environment.parseEnvText("A=1\nA=2", file: "x") == ["A": "2"])
    }

    @Test func aLineWithoutEqualsNamesFileAndLine() {
        let text = "A=1\n# ok\nthis is not a pair\nB=2"
        do {
            _ = try Environment.parseEnvText(text, file: "/etc/wa/db.env")
            Issue.record("accepted a bad line")
        } catch let e as ConfigError {
            #expect(e.code == .envFile)
            #expect(e.variable == "--env-file")
            #expect(e.detail.contains("/etc/wa/db.env:3"), "\(e.detail)")
            #expect(e.detail.contains("this is not a pair"))
            #expect(e.description.hasPrefix("error ENV_FILE: --env-file: /etc/wa/db.env:3:"))
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test(arguments: ["=value", "BAD-NAME=1", "A B=1"])
    func anInvalidVariableNameIsRefused(_ line: String) {
        do {
            _ = try Environment.parseEnvText("OK=1\n\(line)", file: "db.env")
            Issue.record("accepted \(line)")
        } catch let e as ConfigError {
            #expect(e.code == .envFile)
            #expect(e.detail.contains("db.env:2"), "\(e.detail)")
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func crlfLineEndingsAreUnderstood() throws {
        // A db.env saved by a Windows editor. Swift treats "\r\n" as ONE Character, so
        // `split(separator: "\n")` does not split it: the whole file becomes one line.
        let env = try Environment.parseEnvText("WA_DB_ENGINE=SQLITE\r\nWA_DB_PATH=/tmp/x.db\r\n", file: "db.env")
        #expect(env == ["WA_DB_ENGINE": "SQLITE", "WA_DB_PATH": "/tmp/x.db"])
    }

    @Test func processEnvironmentWinsOverTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("envtest-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("db.env").path
        try "WA_DB_PATH=/from/file\nWA_DB_ENGINE=SQLITE\n".write(toFile: path, atomically: true, encoding: .utf8)
        let env = try Environment.load(processEnvironment: ["WA_DB_PATH": "/from/env"], envFile: path)
        #expect(env["WA_DB_PATH"] == "/from/env")
        #expect(env["WA_DB_ENGINE"] == "SQLITE")
        let noFile = try Environment.load(processEnvironment: ["X": "1"], envFile: nil)
        #expect(noFile.values == ["X": "1"])
    }

    @Test func anUnreadableEnvFileIsAConfigError() {
        do {
            _ = try Environment.load(processEnvironment: [:], envFile: "/nonexistent/dir/db.env")
            Issue.record("loaded a missing file")
        } catch let e as ConfigError {
            #expect(e.code == .envFile)
            #expect(e.detail.contains("/nonexistent/dir/db.env"))
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func emptyValuesReadAsUnset() throws {
        let env = Environment(["A": "", "B": "x"])
        #expect(env["A"] == nil)
        #expect(env["B"] == "x")
        #expect(env["C"] == nil)
        #expect(throws: ConfigError(.missing, variable: "A", detail: "is required because; set it in the environment or the --env-file")) {
            try env.required("A", because: "because")
        }
        #expect(try env.required("B", because: "x") == "x")
    }

    @Test func hostPortParsing() {
        #expect(HostPort("gw:7000") == HostPort(host: "gw", port: 7000))
        #expect(HostPort("127.0.0.1:1") == HostPort(host: "127.0.0.1", port: 1))
        #expect(HostPort("::1:65535") == HostPort(host: "::1", port: 65535))
        for bad in ["gw", ":7000", "gw:0", "gw:65536", "gw:x", "", "gw:"] {
            #expect(HostPort(bad) == nil, "\(bad)")
        }
        #expect(HostPort(host: "h", port: 5).description == "h:5")
    }
}
