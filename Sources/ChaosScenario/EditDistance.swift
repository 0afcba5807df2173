/// Edit distance counting an adjacent swap as one edit (optimal string alignment), because
/// swapped letters (`stesp`) are the commonest typo. Inputs are short keys: the table is fine.
func editDistance(_ lhs: String, _ rhs: String) -> Int {
    let a = Array(lhs), b = Array(rhs)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var table = Array(repeating: Array(repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { table[i][0] = i }
    for j in 0...b.count { table[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            table[i][j] = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                table[i][j] = min(table[i][j], table[i - 2][j - 2] + 1)
            }
        }
    }
    return table[a.count][b.count]
}

/// The candidate closest to `word`, if close enough to be a plausible typo of it.
func closestMatch(to word: String, among candidates: [String]) -> String? {
    // A third of the length (at least 1, at most 3) separates typos from different words.
    let limit = min(3, max(1, word.count / 3))
    let scored = candidates.map { (candidate: $0, distance: editDistance(word.lowercased(), $0.lowercased())) }
    guard let best = scored.filter({ $0.distance <= limit }).min(by: { $0.distance < $1.distance }) else {
        return nil
    }
    return best.candidate
}

/// `; did you mean "x"?` when a close candidate exists, else an empty string.
func didYouMean(_ word: String, among candidates: [String]) -> String {
    closestMatch(to: word, among: candidates).map { "; did you mean \"\($0)\"?" } ?? ""
}
