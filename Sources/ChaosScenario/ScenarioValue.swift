/// A JSON-like value, for settings the format passes through to the product untouched.
public enum ScenarioValue: Equatable, Sendable, Encodable {
    /// `null` or `~`.
    case null
    /// `true` / `false`.
    case bool(Bool)
    /// An integer.
    case int(Int)
    /// A number with a fraction or exponent.
    case double(Double)
    /// Text, quoted or plain.
    case string(String)
    /// A YAML sequence.
    case list([ScenarioValue])
    /// A YAML mapping.
    case object([String: ScenarioValue])

    /// Encodes as the JSON the product's settings endpoint expects.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .list(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
