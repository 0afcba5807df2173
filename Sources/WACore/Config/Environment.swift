import Foundation

/// The variables a node reads: the process environment over an optional env file (`db.env`),
/// as docker-compose does (explicit environment wins over `env_file`).
public struct Environment: Sendable {
    public var values: [String: String]
    public init(_ values: [String: String]) { self.values = values }

    public static func load(processEnvironment: [String: String] = ProcessInfo.processInfo.environment,
                            envFile: String?) throws -> Environment {
        var merged: [String: String] = [:]
        if let envFile { merged = try parseEnvFile(atPath: envFile) }
        for (k, v) in processEnvironment { merged[k] = v }
        return Environment(merged)
    }

    /// Parses `KEY=VALUE` lines; `#` comments, blank lines and an `export ` prefix are allowed,
    /// and one pair of surrounding quotes is removed.
    public static func parseEnvFile(atPath path: String) throws -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(.envFile, variable: "--env-file", detail: "cannot read \(path)")
        }
        return try parseEnvText(text, file: path)
    }

    public static func parseEnvText(_ text: String, file: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for (index, raw) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            guard let eq = line.firstIndex(of: "=") else {
                throw ConfigError(.envFile, variable: "--env-file",
                                  detail: "\(file):\(index + 1): expected KEY=VALUE, got '\(line)'")
            }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw ConfigError(.envFile, variable: "--env-file", detail: "\(file):\(index + 1): invalid variable name '\(key)'")
            }
            if value.count >= 2, let f = value.first, f == value.last, f == "\"" || f == "'" {
                value = String(value.dropFirst().dropLast())
            }
            out[key] = value
        }
        return out
    }

    public subscript(_ key: String) -> String? {
        guard let v = values[key], !v.isEmpty else { return nil }
        return v
    }

    public func required(_ key: String, because why: String) throws -> String {
        guard let v = self[key] else { throw ConfigError(.missing, variable: key, detail: "is required \(why); set it in the environment or the --env-file") }
        return v
    }
}

/// `host:port`, as in `WA_GATEWAY_ADDRESS` and node addresses in the DB.
public struct HostPort: Hashable, Codable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) { self.host = host; self.port = port }
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        let host = String(text[..<colon])
        guard !host.isEmpty else { return nil }
        self.init(host: host, port: port)
    }
    public var description: String { "\(host):\(port)" }
    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let hp = HostPort(s) else { throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not host:port: \(s)")) }
        self = hp
    }
    public func encode(to encoder: Encoder) throws { var c = encoder.singleValueContainer(); try c.encode(description) }
}
