/// A start-up configuration problem. Its description is the single line a node prints before
/// exiting non-zero, and it names the variable and what to do about it.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable { case missing = "CONFIG_MISSING", invalidValue = "CONFIG_INVALID",
                                          forbiddenCharacter = "CONFIG_FORBIDDEN_CHARACTER",
                                          unsupported = "CONFIG_UNSUPPORTED", portInUse = "PORT_IN_USE",
                                          envFile = "ENV_FILE" }
    public let code: Code
    public let variable: String
    public let detail: String
    public init(_ code: Code, variable: String, detail: String) { self.code = code; self.variable = variable; self.detail = detail }
    public var description: String { "error \(code.rawValue): \(variable): \(detail)" }
}
