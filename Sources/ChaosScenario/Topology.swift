import WACore


/// How many nodes of each role the scenario defines.
public struct Topology: Equatable, Sendable {
    /// The shared database.
    public var db: DatabaseEngine
    /// Webapp count; one webapp is named `waweb`, several are `waweb1..N`.
    public var webapps: Int
    /// Master count, named `master1..N`.
    public var masters: Int
    /// Coreapps started at boot, named `wacore1..N`.
    public var coreapps: Int
    /// Extra coreapps defined but not started at boot, named after the boot coreapps.
    public var standbyCoreapps: Int
    /// Builds of `wacluster` by name: the folder holding each binary (`builds: {old: DIR}`);
    /// `new` is the runner's own build unless named here. `wachaos --build NAME=DIR` overrides.
    public var builds: [String: String] = [:]
    /// The build every node starts on (`build: old`); nil: `new`.
    public var build: String?
    /// Nodes that start on another build (`node_builds: {wacore3: new}`): a mixed-version cluster.
    public var nodeBuilds: [String: String] = [:]
    /// The network the hosts are on (`net: proxy | netns | auto`); nil: the runner's `--net`, else proxy.
    public var net: NetworkMode?

    /// The build a node starts on.
    public func build(of node: String) -> String { nodeBuilds[node] ?? build ?? Topology.newBuild }
    /// The name of the runner's own build.
    public static let newBuild = "new"

    /// The engines a scenario may name in `topology.db` (and `wachaos run --db`): the embedded
    /// engine (a `wacluster db` node) and a throwaway PostgreSQL server the runner starts.
    public static let engines: [DatabaseEngine] = [.sqlite, .pgsql]

    /// Creates a topology.
    public init(db: DatabaseEngine = .sqlite, webapps: Int = 1, masters: Int, coreapps: Int, standbyCoreapps: Int = 0) {
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
