/// `kill: owner(shard: 0)` is not valid YAML: a ": " inside a plain scalar starts a mapping value.
/// Rather than make every author quote selectors, a file that fails to parse is parsed again with
/// the blanks after `shard:` moved behind the number (`owner(shard:0 )`). The length of every line
/// stays the same, so each line and column Yams reports still points into the author's text.
func respacingShardSelectors(_ text: String) -> String {
    let characters = Array(text)
    var output: [Character] = []
    output.reserveCapacity(characters.count)
    var index = 0
    while index < characters.count {
        if let (end, rewritten) = respacedOwnerCall(characters, at: index) {
            output += rewritten
            index = end
        } else {
            output.append(characters[index])
            index += 1
        }
    }
    return String(output)
}

/// At `owner(` [blanks] `shard` [blanks] `:` blanks digits: the rewritten run and where it ends.
private func respacedOwnerCall(_ characters: [Character], at start: Int) -> (end: Int, rewritten: [Character])? {
    var index = start
    func consume(_ word: String) -> Bool {
        let expected = Array(word)
        guard index + expected.count <= characters.count,
              Array(characters[index..<index + expected.count]) == expected else { return false }
        index += expected.count
        return true
    }
    func blanks() -> [Character] {
        let begin = index
        while index < characters.count, characters[index] == " " || characters[index] == "\t" { index += 1 }
        return Array(characters[begin..<index])
    }
    guard consume("owner(") else { return nil }
    _ = blanks()
    guard consume("shard") else { return nil }
    _ = blanks()
    guard consume(":") else { return nil }
    let colonEnd = index
    let gap = blanks()
    let digitsStart = index
    while index < characters.count, characters[index].isASCII, characters[index].isNumber { index += 1 }
    guard !gap.isEmpty, index > digitsStart else { return nil }
    let rewritten = Array(characters[start..<colonEnd]) + Array(characters[digitsStart..<index]) + gap
    return (index, rewritten)
}
