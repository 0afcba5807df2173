/// The database engine the cluster shares.
public enum DBEngine: String, CaseIterable, Equatable, Sendable {
    /// The embedded engine: a `wacluster db` process owning the SQLite file.
    case sqlite
    /// A throwaway PostgreSQL server started by the runner.
    case postgres
}

/// How many nodes of each role the scenario defines.
public struct Topology: Equatable, Sendable {
    /// The shared database.
    public var db: DBEngine
    /// Webapp count; one webapp is named `waweb`, several are `waweb1..N`.
    public var webapps: Int
    /// Master count, named `master1..N`.
    public var masters: Int
    /// Coreapps started at boot, named `wacore1..N`.
    public var coreapps: Int
    /// Extra coreapps defined but not started at boot, named after the boot coreapps.
    public var standbyCoreapps: Int

    /// Creates a topology.
    public init(db: DBEngine = .sqlite, webapps: Int = 1, masters: Int, coreapps: Int, standbyCoreapps: Int = 0) {
        self.db = db
        self.webapps = webapps
        self.masters = masters
        self.coreapps = coreapps
        self.standbyCoreapps = standbyCoreapps
    }

    /// Allowed node counts per role; the upper bound only catches typos (two cores run everything).
    static let webappRange = 1...16
    static let masterRange = 1...16
    static let coreappRange = 1...64
    static let standbyCoreappRange = 0...64
}
