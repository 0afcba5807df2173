import Foundation
import Testing

/// Keeps `Sources/WAWebapp/Resources/openapi.json` well formed and in step with the webapp's
/// route table, `Sources/WAWebapp/WebappRoutes.swift`. Both are read as files (the route table
/// as text), so this test does not depend on the WAWebapp module.
@Suite struct OpenAPIDocumentTests {
    static let httpMethods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
    var documentURL: URL { packageRoot.appendingPathComponent("Sources/WAWebapp/Resources/openapi.json") }
    var routesURL: URL { packageRoot.appendingPathComponent("Sources/WAWebapp/WebappRoutes.swift") }

    func document() throws -> [String: Any] {
        let data = try Data(contentsOf: documentURL)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "openapi.json is not a JSON object")
    }

    /// Every operation of the document: (METHOD, path, operation object).
    func operations(_ doc: [String: Any]) throws -> [(method: String, path: String, operation: [String: Any])] {
        let paths = try #require(doc["paths"] as? [String: Any], "the document has no paths object")
        var out: [(method: String, path: String, operation: [String: Any])] = []
        for (path, item) in paths.sorted(by: { $0.key < $1.key }) {
            let item = try #require(item as? [String: Any], "path item \(path) is not an object")
            for method in Self.httpMethods {
                guard let op = item[method] else { continue }
                out.append((method.uppercased(), path, try #require(op as? [String: Any], "\(method) \(path) is not an object")))
            }
        }
        return out
    }

    /// The (METHOD, path) tuples of WebappRoutes.swift, read as text: every line that starts
    /// with `(method:` must be exactly one `(method: "GET", path: "/v1/health"),` tuple, so a
    /// route written another way cannot slip past the comparison. Comments are not read.
    func routeTable() throws -> [String] {
        let text = try String(contentsOf: routesURL, encoding: .utf8)
        let regex = try NSRegularExpression(pattern: #"^\(method: "([A-Z]+)", path: "(/[^"]*)"\),$"#)
        var routes: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            guard trimmed.hasPrefix("(method:") else { continue }
            let ns = trimmed as NSString
            guard let m = regex.firstMatch(in: trimmed, range: NSRange(location: 0, length: ns.length)) else {
                Issue.record("WebappRoutes.swift: not in the `(method: \"GET\", path: \"/v1/...\"),` format: \(trimmed)")
                continue
            }
            routes.append(ns.substring(with: m.range(at: 1)) + " " + ns.substring(with: m.range(at: 2)))
        }
        return routes
    }

    @Test func isOpenAPI3() throws {
        let doc = try document()
        let version = try #require(doc["openapi"] as? String, "no `openapi` version string")
        #expect(version.hasPrefix("3."), "openapi is \(version)")
        let info = try #require(doc["info"] as? [String: Any])
        #expect(info["title"] as? String == "WhatsApp Business API replica (webapp)")
        #expect(info["version"] is String)
    }

    @Test func everyOperationHasAnIdAndSuccessAndClientErrorResponses() throws {
        let doc = try document()
        let ops = try operations(doc)
        #expect(!ops.isEmpty)
        var ids: [String: String] = [:]
        for (method, path, op) in ops {
            let name = "\(method) \(path)"
            if let id = op["operationId"] as? String, !id.isEmpty {
                if let other = ids[id] { Issue.record("operationId \(id) is used by both \(other) and \(name)") }
                ids[id] = name
            } else {
                Issue.record("\(name) has no operationId")
            }
            guard let responses = op["responses"] as? [String: Any] else { Issue.record("\(name) has no responses"); continue }
            let codes = responses.keys
            #expect(codes.contains { $0.count == 3 && $0.hasPrefix("2") }, "\(name) lists no 2xx response")
            #expect(codes.contains { $0.count == 3 && $0.hasPrefix("4") }, "\(name) lists no 4xx response")
        }
    }

    /// Every 4xx and 5xx response carries the product's error shape.
    @Test func errorResponsesUseTheErrorSchema() throws {
        let doc = try document()
        for (method, path, op) in try operations(doc) {
            for (code, response) in (op["responses"] as? [String: Any]) ?? [:] where code.hasPrefix("4") || code.hasPrefix("5") {
                var r = response as? [String: Any] ?? [:]
                if let ref = r["$ref"] as? String { r = resolve(ref, in: doc) as? [String: Any] ?? [:] }
                let content = r["content"] as? [String: Any]
                let media = content?["application/json"] as? [String: Any]
                let schema = media?["schema"] as? [String: Any]
                #expect(schema?["$ref"] as? String == "#/components/schemas/Error",
                        "\(method) \(path) \(code) does not use #/components/schemas/Error")
            }
        }
    }

    /// Every templated path segment is declared as a path parameter.
    @Test func pathParametersAreDeclared() throws {
        let doc = try document()
        let paths = try #require(doc["paths"] as? [String: Any])
        for (path, item) in paths {
            let item = item as? [String: Any] ?? [:]
            let templated = path.split(separator: "/").filter { $0.hasPrefix("{") && $0.hasSuffix("}") }.map { String($0.dropFirst().dropLast()) }
            guard !templated.isEmpty else { continue }
            for method in Self.httpMethods {
                guard let op = item[method] as? [String: Any] else { continue }
                let params = ((item["parameters"] as? [Any]) ?? []) + ((op["parameters"] as? [Any]) ?? [])
                let declared = params.compactMap { p -> String? in
                    var p = p as? [String: Any] ?? [:]
                    if let ref = p["$ref"] as? String { p = resolve(ref, in: doc) as? [String: Any] ?? [:] }
                    return p["in"] as? String == "path" ? p["name"] as? String : nil
                }
                for name in templated {
                    #expect(declared.contains(name), "\(method.uppercased()) \(path) does not declare path parameter \(name)")
                }
            }
        }
    }

    @Test func everyRefResolves() throws {
        let doc = try document()
        var refs: [String] = []
        func walk(_ value: Any) {
            if let obj = value as? [String: Any] {
                if let ref = obj["$ref"] as? String { refs.append(ref) }
                obj.values.forEach(walk)
            } else if let arr = value as? [Any] {
                arr.forEach(walk)
            }
        }
        walk(doc)
        #expect(!refs.isEmpty)
        for ref in Set(refs).sorted() {
            #expect(ref.hasPrefix("#/"), "\(ref) points outside the document")
            #expect(resolve(ref, in: doc) != nil, "\(ref) does not resolve")
        }
    }

    /// The in-step check: the document describes exactly the routes the webapp serves.
    @Test func documentMatchesTheRouteTable() throws {
        let documented = try operations(try document()).map { "\($0.method) \($0.path)" }
        let served = try routeTable()
        #expect(!served.isEmpty, "no routes found in WebappRoutes.swift")
        #expect(Set(served).count == served.count, "WebappRoutes.swift lists a route twice: \(served)")
        let missingFromDocument = Set(served).subtracting(documented).sorted()
        let missingFromRoutes = Set(documented).subtracting(served).sorted()
        #expect(missingFromDocument.isEmpty, "served but not in openapi.json: \(missingFromDocument)")
        #expect(missingFromRoutes.isEmpty, "in openapi.json but not in WebappRoutes.swift: \(missingFromRoutes)")
    }

    /// Resolves a local JSON pointer (`#/a/b~1c`) inside the document.
    func resolve(_ ref: String, in doc: [String: Any]) -> Any? {
        guard ref.hasPrefix("#") else { return nil }
        var node: Any = doc
        for raw in ref.dropFirst().split(separator: "/", omittingEmptySubsequences: true) {
            let key = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            if let obj = node as? [String: Any], let next = obj[key] {
                node = next
            } else if let arr = node as? [Any], let i = Int(key), arr.indices.contains(i) {
                node = arr[i]
            } else {
                return nil
            }
        }
        return node
    }
}
