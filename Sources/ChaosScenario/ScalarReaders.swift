import Yams

/// Typed reads of scalar fields; each reports its own type error and returns nil on failure.
extension Diagnostics {
    /// Any plain or quoted scalar except null, as text (so `description: 2024` is still text).
    func string(_ field: Field) -> String? {
        guard case .scalar(let scalar) = field.node, field.node.tagName != .null else {
            report(field.node, field.path, "expected a string, got \(describe(field.node))")
            return nil
        }
        return scalar.string
    }

    /// An integer written as one (`5`, not `5.0` nor `"5"`).
    func integer(_ field: Field) -> Int? {
        guard case .scalar(let scalar) = field.node, field.node.tagName == .int,
              let value = Int.construct(from: scalar) else {
            report(field.node, field.path, "expected an integer, got \(describe(field.node))")
            return nil
        }
        return value
    }

    /// An integer within `range`.
    func integer(_ field: Field, in range: ClosedRange<Int>) -> Int? {
        guard let value = integer(field) else { return nil }
        guard range.contains(value) else {
            let expectation = range.upperBound == Int.max
                ? "an integer of at least \(range.lowerBound)"
                : "an integer from \(range.lowerBound) to \(range.upperBound)"
            report(field.node, field.path, "expected \(expectation), got \(value)")
            return nil
        }
        return value
    }

    /// A finite number, integer or decimal.
    func number(_ field: Field) -> Double? {
        guard case .scalar(let scalar) = field.node, [.int, .float].contains(field.node.tagName),
              let value = Double.construct(from: scalar), value.isFinite else {
            report(field.node, field.path, "expected a number, got \(describe(field.node))")
            return nil
        }
        return value
    }

    /// A duration in logical seconds: a number above zero (or at least zero when allowed).
    func duration(_ field: Field, allowZero: Bool = false) -> LogicalSeconds? {
        guard let value = number(field) else { return nil }
        guard value > 0 || (allowZero && value == 0) else {
            let expectation = allowZero ? "zero or more" : "more than 0"
            report(field.node, field.path, "expected a duration in logical seconds (\(expectation)), "
                   + "got \(describe(field.node))")
            return nil
        }
        return value
    }

    /// `true` or `false`.
    func boolean(_ field: Field) -> Bool? {
        guard case .scalar(let scalar) = field.node, field.node.tagName == .bool,
              let value = Bool.construct(from: scalar) else {
            report(field.node, field.path, "expected true or false, got \(describe(field.node))")
            return nil
        }
        return value
    }

    /// One of the raw values of a string enum, e.g. `expected "both" or "one_way", got "sideways"`.
    func choice<Choice: RawRepresentable & CaseIterable>(_ field: Field, of _: Choice.Type) -> Choice?
        where Choice.RawValue == String {
        choice(field, among: Array(Choice.allCases), spelled: \.rawValue)
    }

    /// One of `options`, each spelled as `spelled` says.
    func choice<Choice>(_ field: Field, among options: [Choice], spelled: (Choice) -> String) -> Choice? {
        guard case .scalar(let scalar) = field.node, field.node.tagName == .str,
              let value = options.first(where: { spelled($0) == scalar.string }) else {
            report(field.node, field.path, "expected \(quotedAlternatives(options.map(spelled))), got \(describe(field.node))")
            return nil
        }
        return value
    }
}

/// `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
func quotedAlternatives(_ options: [String]) -> String {
    let quoted = options.map { "\"\($0)\"" }
    guard quoted.count > 1 else { return quoted.first ?? "" }
    return quoted.dropLast().joined(separator: ", ") + " or " + quoted.last!
}
