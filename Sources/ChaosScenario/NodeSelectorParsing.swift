/// Why a selector string could not be read.
public struct SelectorSyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What is wrong with the text, and what was expected.
    public var message: String
    /// The message.
    public var description: String { message }
}

extension NodeSelector {
    /// Reads a selector: `wacore2`, `primary_master`, `owner(shard: 0)`, `random(standby)`, `$victim`.
    /// Whitespace is free around words and punctuation. Names are not checked here (see the loader).
    public static func parse(_ text: String) throws -> NodeSelector {
        var scanner = SelectorScanner(text)
        let selector = try scanner.selector()
        scanner.skipWhitespace()
        guard scanner.isAtEnd else {
            throw SelectorSyntaxError(message: "unexpected \"\(scanner.rest)\" after \(selector)")
        }
        return selector
    }

    /// What the error messages show as the grammar.
    static let grammarSummary =
        "a node name, a role (primary_master, secondary_master, standby, coreapp, master, webapp), "
        + "owner(shard: N), random(ROLE), any(ROLE), $label, or all (every webapp, master and coreapp: a link's from side)"
}

/// A hand-rolled recursive-descent reader: the grammar is four rules, not worth a regex engine.
private struct SelectorScanner {
    private let characters: [Character]
    private let text: String
    private var position = 0

    init(_ text: String) {
        self.text = text
        characters = Array(text)
    }

    var isAtEnd: Bool { position >= characters.count }
    var rest: String { String(characters[min(position, characters.count)...]) }

    mutating func skipWhitespace() {
        while !isAtEnd, characters[position].isWhitespace { position += 1 }
    }

    mutating func selector() throws -> NodeSelector {
        skipWhitespace()
        if isAtEnd {
            throw SelectorSyntaxError(message: text.isEmpty
                ? "expected a node selector, got an empty string"
                : "expected a node selector, got \"\(text)\"")
        }
        if characters[position] == "$" {
            position += 1
            return .label(try word(describing: "a label after \"$\""))
        }
        let name = try word(describing: "a node selector (\(NodeSelector.grammarSummary))")
        skipWhitespace()
        if !isAtEnd, characters[position] == "(" {
            position += 1
            return try call(name)
        }
        if ["owner", "any", "random"].contains(name) {
            throw SelectorSyntaxError(message: name == "owner"
                ? "owner needs a shard: owner(shard: N)"
                : "\(name) needs a role: \(name)(standby)")
        }
        return NodeSelector.roleKeywords[name] ?? .name(name)
    }

    private mutating func call(_ function: String) throws -> NodeSelector {
        switch function {
        case "owner":
            return .owner(shard: try ownerArguments())
        case "any", "random":
            let inner = try selector()
            try expect(")", after: "\(function)(\(inner)")
            guard inner.isRoleBased, !isRandom(inner), inner != .allNodes else {
                throw SelectorSyntaxError(message: "\(function)(...) picks among the nodes of a role "
                    + "(standby, coreapp, master, webapp, secondary_master, owner(shard: N)), got \"\(inner)\"")
            }
            return .random(inner)
        default:
            throw SelectorSyntaxError(message: "only owner(shard: N), any(ROLE) and random(ROLE) take arguments, "
                + "got \"\(function)(...)\"" + didYouMean(function, among: ["owner", "any", "random"]))
        }
    }

    private mutating func ownerArguments() throws -> Int {
        let problem = SelectorSyntaxError(message:
            "expected owner(shard: N) with N a shard number (0, 1, ...), got \"\(text.trimmingWhitespace)\"")
        skipWhitespace()
        guard (try? word(describing: "")) == "shard" else { throw problem }
        skipWhitespace()
        guard !isAtEnd, characters[position] == ":" else { throw problem }
        position += 1
        skipWhitespace()
        let start = position
        while !isAtEnd, characters[position].isASCII, characters[position].isNumber { position += 1 }
        guard let shard = Int(String(characters[start..<position])) else { throw problem }
        skipWhitespace()
        guard !isAtEnd, characters[position] == ")" else { throw problem }
        position += 1
        return shard
    }

    private mutating func expect(_ character: Character, after context: String) throws {
        skipWhitespace()
        guard !isAtEnd, characters[position] == character else {
            throw SelectorSyntaxError(message: "expected \"\(character)\" after \"\(context)\"")
        }
        position += 1
    }

    /// Letters, digits, `_` and `-`: wide enough for any node name or keyword, typos included.
    private mutating func word(describing expectation: String) throws -> String {
        let start = position
        while !isAtEnd, isWordCharacter(characters[position]) { position += 1 }
        guard position > start else {
            throw SelectorSyntaxError(message: "expected \(expectation), got \"\(text)\"")
        }
        return String(characters[start..<position])
    }

    private func isWordCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || character == "_" || character == "-")
    }

    private func isRandom(_ selector: NodeSelector) -> Bool {
        if case .random = selector { return true }
        return false
    }
}

extension String {
    /// The string without leading and trailing whitespace (Foundation-free).
    var trimmingWhitespace: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
