/// Every route the webapp serves: the router is built from this list and the OpenAPI
/// document is tested against it.
///
/// `OpenAPIDocumentTests` (in `WAChaosTests`) reads this file as text and compares the
/// `(method: "...", path: "...")` tuples with the operations of `Resources/openapi.json`, so keep
/// the literal format: one tuple per line, exactly `(method: "POST", path: "/v1/messages"),`.
public enum WebappRoutes {
    public static let all: [(method: String, path: String)] = [
        (method: "POST", path: "/v1/users/login"),
        (method: "POST", path: "/v1/users"),
        (method: "DELETE", path: "/v1/users/{username}"),
        (method: "GET", path: "/v1/health"),
        (method: "POST", path: "/v1/account"),
        (method: "POST", path: "/v1/account/verify"),
        (method: "POST", path: "/v1/account/shards"),
        (method: "GET", path: "/v1/account/shards"),
        (method: "GET", path: "/v1/settings/application"),
        (method: "PATCH", path: "/v1/settings/application"),
        (method: "POST", path: "/v1/messages"),
        (method: "POST", path: "/v1/contacts"),
        (method: "POST", path: "/v1/settings/backup"),
        (method: "POST", path: "/v1/settings/restore"),
        (method: "GET", path: "/v1/settings/profile/about"),
        (method: "PATCH", path: "/v1/settings/profile/about"),
        (method: "GET", path: "/v1/settings/profile/photo"),
        (method: "POST", path: "/v1/settings/profile/photo"),
        (method: "GET", path: "/v1/settings/business/profile"),
        (method: "POST", path: "/v1/settings/business/profile"),
        (method: "GET", path: "/v1/support"),
        (method: "GET", path: "/v1/stats/db"),
        (method: "GET", path: "/metrics"),
        (method: "GET", path: "/v1/openapi.json"),
    ]

    /// A path in the router's form: OpenAPI's `{name}` becomes Hummingbird's `:name`.
    public static func routerPath(_ openAPIPath: String) -> String {
        openAPIPath.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : String(segment)
        }.joined(separator: "/")
    }

    /// Every distinct path, in the router's form (for telling 405 from 404).
    public static var routerPaths: [String] {
        var seen = Set<String>()
        return all.map { routerPath($0.path) }.filter { seen.insert($0).inserted }
    }
}
