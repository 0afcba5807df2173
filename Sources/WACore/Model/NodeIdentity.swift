import Foundation

/// A node's id: 12 hex digits, like a container id, kept in the node's data folder so it is
/// stable across restarts of the same node and new for a new node.
public enum NodeIdentity {
    public static func loadOrCreate(dataDirectory: String) throws -> String {
        let fm = FileManager.default
        try? fm.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let path = dataDirectory + "/node_id"
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if id.count == 12, id.allSatisfy(\.isHexDigit) { return id }
        }
        var rng = SystemRandomNumberGenerator()
        let id = String((0..<12).map { _ in "0123456789abcdef".randomElement(using: &rng)! })
        do { try id.write(toFile: path, atomically: true, encoding: .utf8) }
        catch { throw ConfigError(.invalidValue, variable: "WA_DATA_DIR", detail: "cannot write \(path): \(error.localizedDescription)") }
        return id
    }
}
