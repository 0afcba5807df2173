import Foundation

/// A checker's verdict: Jepsen-style three values, with the reason.
public enum Verdict: String, Codable, Sendable { case pass, fail, unknown }

/// One check of a scenario: what was checked, the verdict, the figures and the bounds.
extension Array where Element == CheckResult {
    /// A whole-number figure of the named check, as text (`missing` when the check or figure is absent).
    public func figure(_ check: String, _ key: String, missing: String = "-") -> String {
        first { $0.name == check }?.figures[key].map { String(Int($0)) } ?? missing
    }
}

public struct CheckResult: Codable, Sendable {
    public var name: String
    public var line: Int?
    public var verdict: Verdict
    public var reason: String
    /// Measured figures, e.g. detection_logical, recovery_real.
    public var figures: [String: Double] = [:]
    /// Bounds as text, e.g. "25.0...38.0 logical s".
    public var bounds: String?
    public init(name: String, line: Int?, verdict: Verdict, reason: String, figures: [String: Double] = [:], bounds: String? = nil) {
        self.name = name; self.line = line; self.verdict = verdict; self.reason = reason; self.figures = figures; self.bounds = bounds
    }
}

