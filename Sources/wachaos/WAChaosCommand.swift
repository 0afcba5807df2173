import ArgumentParser
import ChaosScenario
import Foundation
import NetHosts
import ProcessSupervisor
import WAChaos
import WACore

@main
struct WAChaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wachaos",
        abstract: "Chaos runner for the WhatsApp Business API HA / Multiconnect cluster replica.",
        subcommands: [Run.self, Check.self, Plan.self, Recheck.self, Shrink.self, Upgrade.self, Up.self, Fault.self, Workload.self, Status.self,
                      Watch.self, Logs.self, SupportBundle.self, Stop.self, Bench.self, Cleanup.self, NetnsJanitor.self])
}

/// Scenario selection shared by `run` and `check`.
struct ScenarioSelection: ParsableArguments {
    @Argument(help: "Scenario files or folders (default: chaos).") var paths: [String] = []
    @Option(help: "Run only scenarios whose name contains this text.") var filter: String?

    func load() throws -> [Scenario] {
        let targets = paths.isEmpty ? ["chaos"] : paths
        var all: [Scenario] = []
        for p in targets {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: p, isDirectory: &isDir) else { throw ValidationError("no such file or folder: \(p)") }
            all += isDir.boolValue ? try ScenarioLoader.loadDirectory(p) : [try ScenarioLoader.load(path: p)]
        }
        if let filter { all = all.filter { $0.name.contains(filter) } }
        if all.isEmpty { throw ValidationError("no scenario matched\(filter.map { " --filter \($0)" } ?? "")") }
        return all
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Validate scenario files without running them.")
    @OptionGroup var selection: ScenarioSelection
    func run() throws {
        let targets = selection.paths.isEmpty ? ["chaos"] : selection.paths
        var failed = false
        for p in targets {
            var isDir: ObjCBool = false
            let files = FileManager.default.fileExists(atPath: p, isDirectory: &isDir) && isDir.boolValue
                ? ((try? ScenarioLoader.scenarioFiles(in: p)) ?? []) : [p]
            for f in files {
                switch ScenarioLoader.check(path: f) {
                case .success(let s): print("ok     \(f) (\(s.name), \(s.steps.count) steps)")
                case .failure(let e): failed = true; print(e.description)
                }
            }
        }
        if failed { throw ExitCode(1) }
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run scenarios against real cluster processes and check them.")
    @OptionGroup var selection: ScenarioSelection
    @Option(help: "Seed for every random choice (overrides the files).") var seed: UInt64?
    @Option(help: "Time scale: real = logical × scale (overrides the files).") var timeScale: Double?
    @Flag(help: "Rewrite golden health files instead of comparing.") var record = false
    @Flag(help: "Keep every scenario's whole folder (DB, data), not only logs and reports.") var keep = false
    @Option(help: "Where run folders go.") var runsDir = "runs"
    @Option(help: "Golden files folder.") var fixtures = "fixtures"
    @Option(help: "Real seconds of slack on both ends of every failover window.") var slack: Double = 1.0
    @Option(help: "Where the hosts are: proxy (loopback and the userspace proxy mesh, no privileges), netns (a network namespace per host, kernel link faults; exit 2 without the capabilities) or auto (netns where the capabilities allow, else proxy); default: the files' topology.net, else proxy.")
    var net: NetworkMode?
    @OptionGroup var source: ClusterSourceOptions

    func validate() throws {
        if let t = timeScale, !(t > 0 && t <= 10) { throw ValidationError("--time-scale must be in (0, 10], got \(t)") }
        if slack < 0 { throw ValidationError("--slack must not be negative") }
        if net == .netns || net == .auto, source.dbEnv != nil { throw ValidationError("--net \(net!.rawValue) cannot reach an existing server (--db-env) from the run's namespaces; use --net proxy") }
    }

    func run() async throws {
        let scenarios: [Scenario]
        do { scenarios = try selection.load() }
        catch let e as ScenarioErrors { FileHandle.standardError.write(Data("\(e)\n".utf8)); throw ExitCode(2) }
        // Before anything else starts a thread or a child: on namespaces the runner re-executes
        // itself inside its hub, and this point is reached a second time there.
        var requirement = NetRequirement.of(cli: net, scenarios: scenarios)
        if source.dbEnv != nil, requirement != .none {
            // An existing server is outside any namespace the run could make.
            if requirement == .required {
                FileHandle.standardError.write(Data("wachaos: a scenario insists on net: netns, and --db-env names a server outside the run's namespaces; use --net proxy or leave --db-env out\n".utf8))
                throw ExitCode(2)
            }
            requirement = .none
        }
        let (netns, fallback) = try NetSetup.prepare(requirement: requirement)
        // Whatever ends the run from here (an error included), its namespaces go with it.
        defer { netns?.close() }
        let supervisor = Supervisor()
        supervisor.installSignalHandlers()
        try? supervisor.enableSubreaper()
        var options = RunOptions()
        options.seed = seed; options.timeScale = timeScale; options.record = record; options.keep = keep
        options.fixturesDirectory = fixtures; options.slackReal = slack
        options.net = net; options.netns = netns; options.netFallback = fallback
        try source.apply(to: &options)
        let f = DateFormatter(); f.dateFormat = "yyyyMMdd-HHmmss"; f.timeZone = TimeZone(identifier: "UTC")
        let dir = "\(runsDir)/\(f.string(from: Date()))-seed\(seed.map(String.init) ?? "file")\(options.database.map { "-\($0.scenarioName)" } ?? "")"
        print("wachaos: \(scenarios.count) scenario(s), run folder \(dir)")
        let reports = try await SuiteRunner(options: options, supervisor: supervisor, runDirectory: dir).run(scenarios)
        await supervisor.shutdown(grace: .seconds(3))
        print("")
        print(SummaryTable.render(reports))
        print("reports: \(dir)/report.json, \(dir)/junit.xml, timeline \(dir)/timeline.jsonl")
        if record { print("goldens rewritten under \(fixtures)/health (--record)") }
        for r in reports where r.verdict != .pass { print("\(r.scenario): \(r.verdict.rawValue) — rerun with --seed \(r.seed) --filter \(r.scenario)") }
        if reports.contains(where: { $0.verdict != .pass }) { throw ExitCode(1) }
    }
}

/// Where a run's clusters come from, for `run` and `up`: the binary, the engine or an existing
/// server, extra node environment and named builds.
struct ClusterSourceOptions: ParsableArguments {
    @Option(help: "Path of the wacluster binary (default: next to wachaos).") var wacluster: String?
    @Option(help: "Database engine: sqlite (a `wacluster db` node) or postgres (a throwaway server the runner starts); default: the file's topology.db.")
    var db: DatabaseEngine?
    @Option(name: .customLong("db-env"), help: "Use an existing PostgreSQL server, described by a db.env file (a customer's), instead of starting one; each cluster gets a database of its own there.")
    var dbEnv: String?
    @OptionGroup var nodeEnv: NodeEnvironmentOption
    @OptionGroup var builds: BuildFoldersOption

    func validate() throws {
        if let dbEnv, !FileManager.default.isReadableFile(atPath: dbEnv) { throw ValidationError("--db-env: cannot read \(dbEnv)") }
        if dbEnv != nil, db == .sqlite { throw ValidationError("--db-env names a PostgreSQL server; it cannot be combined with --db sqlite") }
    }

    func apply(to options: inout RunOptions) throws {
        options.binary = wacluster
        options.database = dbEnv != nil ? .pgsql : db
        options.databaseEnvFile = dbEnv
        options.nodeEnvironment = try nodeEnv.parsed()
        options.builds = try builds.parsed()
    }
}

/// `--build NAME=DIR`, repeatable: the folder holding the `wacluster` of a named build.
struct BuildFoldersOption: ParsableArguments {
    @Option(name: .customLong("build"), help: "NAME=DIR: the folder holding the wacluster of the build a scenario names (topology.builds), e.g. old=.build-HEAD~1/debug (repeatable).")
    var entries: [String] = []

    func parsed() throws -> [String: String] {
        var out: [String: String] = [:]
        for e in entries {
            guard let eq = e.firstIndex(of: "="), eq != e.startIndex, e.index(after: eq) != e.endIndex else { throw ValidationError("--build expects NAME=DIR, got '\(e)'") }
            let name = String(e[..<eq]), dir = String(e[e.index(after: eq)...])
            guard name.allSatisfy({ ($0.isLetter && $0.isLowercase) || $0.isNumber || $0 == "-" }) else { throw ValidationError("--build: '\(name)' is not a build name (lowercase letters, digits, -)") }
            guard FileManager.default.isExecutableFile(atPath: dir + "/wacluster") else { throw ValidationError("--build \(name)=\(dir): no wacluster binary in \(dir)") }
            out[name] = dir
        }
        return out
    }
}

/// `wachaos upgrade --from DIR --to DIR`: a cluster on one build, moved to another under traffic.
struct Upgrade: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a cluster on one build, upgrade it to another under traffic, and report what the upgrade cost.",
        discussion: """
            The new build's dbupgrade runs online (its exit code and time are reported), then every webapp, master and \
            coreapp moves to the new build: all-at-once (the seeds' way), rolling (webapps, secondary masters, the primary \
            master, standbys, then each owner after a planned handover), or random (the rolling moves in an order drawn \
            from --seed, printed before it runs). The report gives per shard the longest stretch without an accepted send, \
            the handovers, and the loss, duplicate, conflict and single-primary checks over the whole run.
            """)
    @Option(help: "Folder holding the wacluster the cluster starts on.") var from: String
    @Option(help: "Folder holding the wacluster it moves to (default: next to wachaos).") var to: String?
    @Option(help: "all-at-once, rolling or random.") var strategy: String = UpgradeStrategy.rolling.rawValue
    @Option(help: "Seed of the random order (and of every random choice).") var seed: UInt64?
    @Option(help: "Time scale: real = logical × scale.") var timeScale: Double = 1
    @Option(help: "Database engine: sqlite or postgres.") var db: DatabaseEngine = .sqlite
    @Option(help: "Shards.") var shards = 2
    @Option(help: "Coreapps (more than the shards: a standby takes each owner's shard).") var coreapps = 3
    @Option(help: "Longest a shard may go without an accepted send, logical seconds (default: 1 for rolling and random, unbounded for all-at-once).")
    var maxUnavailable: Double?
    @Option(help: "Where run folders go.") var runsDir = "runs"

    func validate() throws {
        guard UpgradeStrategy(rawValue: strategy) != nil else {
            throw ValidationError("--strategy must be one of \(UpgradeStrategy.allCases.map(\.rawValue).joined(separator: ", ")), got '\(strategy)'")
        }
        for (flag, dir) in [("--from", from), ("--to", to)] {
            if let dir, !FileManager.default.isExecutableFile(atPath: dir + "/wacluster") { throw ValidationError("\(flag) \(dir): no wacluster binary in that folder") }
        }
        guard Scenario.allowedShardCounts.contains(shards) else { throw ValidationError("--shards must be one of 1, 2, 4, 8, 16, 32") }
        guard coreapps > shards else { throw ValidationError("--coreapps must exceed --shards: each owner's shard needs a standby to go to") }
        guard timeScale > 0, timeScale <= 10 else { throw ValidationError("--time-scale must be in (0, 10]") }
    }

    func run() async throws {
        let strategy = UpgradeStrategy(rawValue: strategy)!
        let bound = maxUnavailable ?? (strategy == .allAtOnce ? nil : 1)
        var yaml = """
            name: upgrade-\(strategy.rawValue)
            time_scale: \(timeScale)
            topology: {db: \(db.scenarioName), masters: 2, coreapps: \(coreapps), builds: {from: "\(from)"\(to.map { ", to: \"\($0)\"" } ?? "")}, build: from}
            shards: \(shards)
            workload: {messages_per_second: 40, senders: 4}
            steps:
              - wait_healthy: {timeout: 120}
              - sleep: 2
              - upgrade: {to: \(to == nil ? "new" : "to"), strategy: \(strategy.rawValue)\(strategy == .random ? ", seed: \(seed ?? 1)" : "")\(bound.map { ", max_unavailable: \($0)" } ?? "")}
              - wait_healthy: {timeout: 120}
              - sleep: 2

            """
        if seed != nil, strategy != .random { yaml = yaml.replacingOccurrences(of: "time_scale:", with: "seed: \(seed!)\ntime_scale:") }
        let scenario: Scenario
        do { scenario = try ScenarioLoader.parse(yaml: yaml, file: "wachaos upgrade") }
        catch { FileHandle.standardError.write(Data("\(error)\n".utf8)); throw ExitCode(2) }
        let supervisor = Supervisor()
        supervisor.installSignalHandlers()
        try? supervisor.enableSubreaper()
        var options = RunOptions()
        options.seed = seed
        let f = DateFormatter(); f.dateFormat = "yyyyMMdd-HHmmss"; f.timeZone = TimeZone(identifier: "UTC")
        let dir = "\(runsDir)/\(f.string(from: Date()))-upgrade-\(strategy.rawValue)"
        print("wachaos upgrade: \(from) → \(to ?? "this build"), \(strategy.rawValue), run folder \(dir)")
        let reports = try await SuiteRunner(options: options, supervisor: supervisor, runDirectory: dir).run([scenario])
        await supervisor.shutdown(grace: .seconds(3))
        print("")
        print(SummaryTable.render(reports))
        for r in reports { for c in r.checks where c.name == "upgrade cost" { print("upgrade cost: \(c.verdict.rawValue): \(c.reason)") } }
        print("the scenario as run: \(dir)/*/scenario.yml (`wachaos run --build from=\(from)\(to.map { " --build to=\($0)" } ?? "")` it to run it again)")
        if reports.contains(where: { $0.verdict != .pass }) { throw ExitCode(1) }
    }
}

/// `--node-env KEY=VALUE`, repeatable: environment for every node the runner starts.
struct NodeEnvironmentOption: ParsableArguments {
    @Option(name: .customLong("node-env"), help: "KEY=VALUE added to every node's environment (repeatable), e.g. a test-only switch such as WA_UNSAFE_DISABLE_FENCING=1.")
    var entries: [String] = []

    func parsed() throws -> [String: String] {
        var out: [String: String] = [:]
        for e in entries {
            guard let eq = e.firstIndex(of: "="), eq != e.startIndex else { throw ValidationError("--node-env expects KEY=VALUE, got '\(e)'") }
            let key = String(e[..<eq])
            guard key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { throw ValidationError("--node-env: '\(key)' is not an environment variable name") }
            out[key] = String(e[e.index(after: eq)...])
        }
        return out
    }
}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the schedule a scenario's nemesis steps draw from a seed, without running anything.",
        discussion: "The output is the plain scenario `wachaos run` would write as schedule.yml; save it to replay or edit it.")
    @Argument(help: "A scenario file.") var file: String
    @Option(help: "Seed (default: the file's, else 1).") var seed: UInt64?

    func run() throws {
        var scenario: Scenario
        do { scenario = try ScenarioLoader.load(path: file) }
        catch { FileHandle.standardError.write(Data("\(error)\n".utf8)); throw ExitCode(2) }
        let seed = self.seed ?? scenario.seed ?? 1
        var shards = scenario.shards
        scenario.steps = scenario.steps.flatMap { step -> [Step] in
            if case .setShards(let n, _) = step { shards = n }
            guard case .nemesis(let plan, let line) = step else { return [step] }
            return NemesisScheduler.schedule(plan, topology: scenario.topology, shards: shards, seed: seed, line: line)
        }
        scenario.seed = seed
        print(ScenarioWriter.yaml(scenario, comment: "Drawn by `wachaos plan \(file) --seed \(seed)`: \(scenario.steps.filter(\.isFault).count) fault step(s)."), terminator: "")
    }
}

struct Recheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-judge a saved run with this build's checkers, starting nothing.",
        discussion: "RUN_DIR is a run folder (every scenario in it) or one scenario's folder. Exit status 0 only when every check passes.")
    @Argument(help: "A run folder or a scenario's folder in it.") var runDir: String

    func run() throws {
        let outcomes: [RunRechecker.Outcome]
        do { outcomes = try RunRechecker.run(runDir) }
        catch { FileHandle.standardError.write(Data("wachaos recheck: \(error)\n".utf8)); throw ExitCode(2) }
        print(RunRechecker.render(outcomes), terminator: "")
        if outcomes.contains(where: { $0.verdict != .pass }) { throw ExitCode(1) }
    }
}

struct Shrink: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reduce a failed run's schedule to the smallest that still fails the same check.",
        discussion: "RUN_DIR is the folder of one failed scenario. Each candidate is a real run with the same seed; the result is written to RUN_DIR/shrunk.yml.")
    @Argument(help: "The failed scenario's folder.") var runDir: String
    @Option(help: "Stop searching after this many real seconds.") var budget: Double = 900
    @Option(help: "Keep schedules that fail this check (repeatable; default: every check the run failed).") var check: [String] = []
    @Option(help: "Runs a candidate must fail in a row to be kept.") var confirm = 2
    @Option(help: "Path of the wacluster binary (default: next to wachaos).") var wacluster: String?
    @Option(help: "Real seconds of slack on both ends of every failover window.") var slack: Double = 1.0
    @OptionGroup var nodeEnv: NodeEnvironmentOption

    func validate() throws {
        if budget <= 0 { throw ValidationError("--budget must be positive") }
        if !(1...10).contains(confirm) { throw ValidationError("--confirm must be 1 to 10") }
        if !FileManager.default.fileExists(atPath: "\(runDir)/report.json") { throw ValidationError("\(runDir) has no report.json: give the folder of one scenario of a finished run") }
    }

    func run() async throws {
        let supervisor = Supervisor()
        supervisor.installSignalHandlers()
        try? supervisor.enableSubreaper()
        var options = RunOptions()
        options.binary = wacluster
        options.slackReal = slack
        options.nodeEnvironment = try nodeEnv.parsed()
        let result = try await Shrinker(runDirectory: runDir, options: options, budget: budget, checks: check.isEmpty ? nil : check,
                                        confirmations: confirm, supervisor: supervisor).run { print($0) }
        await supervisor.shutdown(grace: .seconds(3))
        print("\nshrunk \(result.originalFaults) fault(s) to \(result.faults) in \(result.attempts) attempt(s); still fails \(result.checks.joined(separator: ", "))")
        print("written to \(result.path):\n")
        print((try? String(contentsOfFile: result.path, encoding: .utf8)) ?? "")
    }
}

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks.", subcommands: [Messages.self, JSON.self, Links.self])

    struct Messages: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Accepted-and-delivered messages per second and accept latency through one webapp (real processes, time scale 1).")
        @Option(help: "Shard count.") var shards = 2
        @Option(help: "Coreapps (at least the shard count).") var coreapps = 2
        @Option(help: "Masters.") var masters = 2
        @Option(help: "Keep-alive client connections.") var connections = 32
        @Option(help: "Outstanding requests per connection.") var depth = 1
        @Option(help: "Measured seconds.") var duration: Double = 20
        @Option(help: "Warm-up seconds (not measured).") var warmup: Double = 3
        @Option(help: "Target rate in requests/s (default: as fast as the cluster answers).") var rate: Double?
        @Option(help: "Path of the wacluster binary (default: next to wachaos).") var wacluster: String?
        @Option(help: "Write the result as JSON to this file.") var json: String?
        @Option(help: "Database engine: sqlite (a `wacluster db` node) or postgres (a throwaway server).") var db: DatabaseEngine = .sqlite

        func validate() throws {
            guard [1, 2, 4, 8, 16, 32].contains(shards) else { throw ValidationError("--shards must be 1, 2, 4, 8, 16 or 32") }
            guard coreapps >= shards else { throw ValidationError("--coreapps must be at least --shards") }
            guard connections > 0, depth > 0, duration > 0, warmup >= 0 else { throw ValidationError("--connections, --depth and --duration must be positive") }
        }

        func run() async throws {
            var o = MessageBenchmark.Options()
            o.shards = shards; o.coreapps = coreapps; o.masters = masters; o.connections = connections; o.pipelineDepth = depth
            o.duration = duration; o.warmup = warmup; o.rate = rate; o.binary = wacluster; o.database = db
            let r = try await MessageBenchmark(options: o).run { print("bench: \($0)") }
            print(String(format: """
                messages accepted:   %d (%d refused, %d errors)
                accepted per second: %.0f (measured phase, %.1fs)
                accepted+delivered:  %.0f msg/s (from load start until the gateway acknowledged everything and every callback was delivered; drain %.2fs)
                accept latency:      p50 %.2f ms, p99 %.2f ms, max %.2f ms
                lost: %d, duplicated at the gateway: %d, webhook POSTs: %d
                boot (spawn to first login): %.2fs; database connections during the load: %@
                baselines (same run):  cheapest webapp route %.0f answers/s; bare SQLite %.0f commits/s of %d rows (%.0f rows/s)
                ratios:              accepted/s ÷ cheapest route = %.1f %%; accepted/s ÷ SQLite commits/s = %.2f messages per commit
                """, r.accepted, r.refused, r.errors, r.acceptedPerSecond, r.measuredSeconds, r.deliveredPerSecond, r.drainSeconds,
                r.p50ms, r.p99ms, r.maxms, r.lost, r.duplicated, r.webhookRequests, r.bootSeconds,
                r.databaseConnections.map { "\($0) (PostgreSQL pg_stat_activity, most seen)" } ?? "one multiplexed link per node (db node)",
                r.baselineRoutePerSecond, r.baselineSQLiteCommitsPerSecond, connections, r.baselineSQLiteRowsPerSecond,
                r.routeRatio * 100, r.sqliteCommitRatio))
            if let json {
                try JSONCodec.prettyData(JSONCodec.encode(r)).write(to: URL(fileURLWithPath: json))
            }
            if r.lost > 0 || r.duplicated > 0 { throw ExitCode(1) }
        }
    }
}

extension Bench {
    /// `wachaos bench json`: JSONCodec against Foundation's coders on the message path's documents.
    struct JSON: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "json",
            abstract: "Time the package's JSON codec against Foundation's on the documents every message crosses (build with -c release).")
        @Option(help: "Round trips per document and contender in each round.") var iterations = 20_000
        @Option(help: "Rounds (interleaved; the best round of each counts).") var rounds = 5
        @Option(help: "Write the result as JSON to this file.") var json: String?

        func validate() throws {
            guard iterations > 0, rounds > 0 else { throw ValidationError("--iterations and --rounds must be positive") }
        }

        private func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(1, width - s.count)) }

        func run() throws {
            let r = try JSONCodecBenchmark.run(iterations: iterations, rounds: rounds)
            print("µs per parse+write round trip, best of \(rounds) rounds of \(iterations):")
            for f in r.figures {
                print("  " + pad(f.document, 36) + pad(f.contender.rawValue, 38)
                      + String(format: "%8.2f µs  (%.2f× JSONCodec)", f.microsecondsPerRoundTrip, f.timesJSONCodec))
            }
            print("message path (every document once):")
            for c in JSONCodecBenchmark.Contender.allCases {
                print("  " + pad(c.rawValue, 38) + String(format: "%8.2f µs per message", r.messagePathMicroseconds[c.rawValue] ?? 0))
            }
            if let json {
                try JSONCodec.prettyData(JSONCodec.encode(r)).write(to: URL(fileURLWithPath: json))
            }
        }
    }
}

/// `--db sqlite|postgres`: the engines the runner can start (`Topology.engines`).
extension DatabaseEngine: ExpressibleByArgument {
    public init?(argument: String) {
        guard let engine = DatabaseEngine(scenarioName: argument), Topology.engines.contains(engine) else { return nil }
        self = engine
    }
    public static var allValueStrings: [String] { Topology.engines.map(\.scenarioName) }
    public var defaultValueDescription: String { scenarioName }
}

extension Bench {
    /// `wachaos bench links`: the latency and throughput one hop adds, per kind of link.
    struct Links: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Added latency (p50, p99) and throughput of one hop through the proxy mesh, a socat relay and a netns veth path, against a direct loopback connection in the same run.")
        @Option(help: "Measured round trips per path and round.") var roundTrips = 20_000
        @Option(help: "Bytes per message of the round trips.") var messageBytes = 64
        @Option(help: "MiB streamed one way per path and round.") var bulkMib = 64
        @Option(help: "Interleaved rounds (medians are reported).") var rounds = 3
        @Option(help: "Write the result as JSON to this file.") var json: String?

        func validate() throws {
            guard roundTrips >= 100, messageBytes > 0, messageBytes <= 65536, bulkMib > 0, rounds > 0 else {
                throw ValidationError("--round-trips must be at least 100, --message-bytes 1...65536, --bulk-mib and --rounds positive")
            }
        }

        func run() async throws {
            let supervisor = Supervisor()
            supervisor.installSignalHandlers()
            var o = LinkBenchmark.Options()
            o.roundTrips = roundTrips; o.messageBytes = messageBytes; o.bulkBytes = bulkMib << 20; o.rounds = rounds
            let r = try await LinkBenchmark(options: o, supervisor: supervisor).run { print("bench: \($0)") }
            await supervisor.shutdown(grace: .seconds(2))
            print("method: \(r.method)")
            func pad(_ s: String, _ w: Int) -> String { s + String(repeating: " ", count: max(1, w - s.count)) }
            print(pad("path", 26) + pad("p50 µs", 10) + pad("p99 µs", 10) + pad("added p50", 11) + pad("added p99", 11) + pad("MB/s", 9) + "× direct")
            for p in r.paths {
                if let note = p.note { print(pad(p.path, 26) + "not measured: \(note)"); continue }
                print(pad(p.path, 26) + pad(String(format: "%.1f", p.p50Microseconds), 10) + pad(String(format: "%.1f", p.p99Microseconds), 10)
                      + pad(String(format: "%+.1f", p.addedP50Microseconds), 11) + pad(String(format: "%+.1f", p.addedP99Microseconds), 11)
                      + pad(String(format: "%.0f", p.megabytesPerSecond), 9) + String(format: "%.2f", p.throughputRatio))
            }
            print("target: the proxy adds at most \(Int(r.proxyTargetAddedP50Microseconds)) µs at p50 (Toxiproxy's claim): \(r.proxyMeetsTarget ? "met" : "missed")")
            if let json { try JSONCodec.prettyData(JSONCodec.encode(r)).write(to: URL(fileURLWithPath: json)) }
        }
    }
}
