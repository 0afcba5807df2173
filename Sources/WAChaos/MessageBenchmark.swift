import ChaosScenario
import Foundation
import LoadGenerator
import ProcessSupervisor
import WAStorePostgres
import NIOCore
import NIOPosix
import WACore
import WATestKit
import WAWire

/// `wachaos bench messages`: sustained accepted-and-delivered messages per second and accept
/// latency through one webapp with N shards, on either engine, with real processes at time scale 1.
public struct MessageBenchmark {
    public struct Options: Sendable {
        public var shards = 2
        public var coreapps = 2
        public var masters = 2
        public var connections = 32
        public var pipelineDepth = 1
        public var duration: Double = 20
        public var warmup: Double = 3
        public var rate: Double?
        public var binary: String?
        public var runDirectory = "runs/bench"
        public var database = DatabaseEngine.sqlite
        public init() {}
    }

    public struct Result: Encodable, Sendable {
        public var accepted: Int
        public var refused: Int
        public var errors: Int
        public var measuredSeconds: Double
        public var acceptedPerSecond: Double
        public var deliveredPerSecond: Double
        public var drainSeconds: Double
        public var p50ms: Double
        public var p99ms: Double
        public var maxms: Double
        public var lost: Int
        public var duplicated: Int
        public var webhookRequests: Int
        /// Spawn of the first process to the first answered login, seconds.
        public var bootSeconds: Double
        /// PostgreSQL only: the most client connections the server had during the load.
        public var databaseConnections: Int?
        /// Same run, same load generator: answers/s of the webapp's cheapest route (an unknown path).
        public var baselineRoutePerSecond: Double
        /// Same run, same disk: one SQLite writer committing `connections` rows per transaction.
        public var baselineSQLiteCommitsPerSecond: Double
        public var baselineSQLiteRowsPerSecond: Double
        /// CPU µs each process spent per accepted message over the load (warm-up included), and
        /// per answer of the cheapest route: where the message path's cycles go.
        public var cpuMicrosPerMessage: [String: Double] = [:]
        public var cpuMicrosPerRouteAnswer: [String: Double] = [:]
        /// accepted/s ÷ the cheapest route's answers/s: the share of the webapp's own speed the message path keeps.
        public var routeRatio: Double { baselineRoutePerSecond > 0 ? acceptedPerSecond / baselineRoutePerSecond : 0 }
        /// accepted/s ÷ the SQLite loop's commits/s: messages per bare group commit of this disk.
        public var sqliteCommitRatio: Double { baselineSQLiteCommitsPerSecond > 0 ? acceptedPerSecond / baselineSQLiteCommitsPerSecond : 0 }
        enum CodingKeys: String, CodingKey {
            case accepted, refused, errors, measuredSeconds, acceptedPerSecond, deliveredPerSecond, drainSeconds, p50ms, p99ms, maxms
            case lost, duplicated, webhookRequests, bootSeconds, databaseConnections
            case baselineRoutePerSecond, baselineSQLiteCommitsPerSecond, baselineSQLiteRowsPerSecond, routeRatio, sqliteCommitRatio
            case cpuMicrosPerMessage, cpuMicrosPerRouteAnswer
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(accepted, forKey: .accepted); try c.encode(refused, forKey: .refused); try c.encode(errors, forKey: .errors)
            try c.encode(measuredSeconds, forKey: .measuredSeconds); try c.encode(acceptedPerSecond, forKey: .acceptedPerSecond)
            try c.encode(deliveredPerSecond, forKey: .deliveredPerSecond); try c.encode(drainSeconds, forKey: .drainSeconds)
            try c.encode(p50ms, forKey: .p50ms); try c.encode(p99ms, forKey: .p99ms); try c.encode(maxms, forKey: .maxms)
            try c.encode(lost, forKey: .lost); try c.encode(duplicated, forKey: .duplicated); try c.encode(webhookRequests, forKey: .webhookRequests)
            try c.encode(bootSeconds, forKey: .bootSeconds); try c.encodeIfPresent(databaseConnections, forKey: .databaseConnections)
            try c.encode(baselineRoutePerSecond, forKey: .baselineRoutePerSecond)
            try c.encode(baselineSQLiteCommitsPerSecond, forKey: .baselineSQLiteCommitsPerSecond)
            try c.encode(baselineSQLiteRowsPerSecond, forKey: .baselineSQLiteRowsPerSecond)
            try c.encode(routeRatio, forKey: .routeRatio); try c.encode(sqliteCommitRatio, forKey: .sqliteCommitRatio)
            try c.encode(cpuMicrosPerMessage, forKey: .cpuMicrosPerMessage); try c.encode(cpuMicrosPerRouteAnswer, forKey: .cpuMicrosPerRouteAnswer)
        }
    }

    let options: Options
    public init(options: Options) { self.options = options }

    public func run(log: (String) -> Void) async throws -> Result {
        var layout = ClusterLayout()
        layout.masters = options.masters; layout.coreapps = options.coreapps; layout.timeScale = 1
        let dir = options.runDirectory + "/" + String(Int(Date().timeIntervalSince1970))
        let supervisor = Supervisor()
        if options.database == .pgsql {
            layout.database = .postgres(try await PostgresTemplate.create(at: dir + "/postgres-template/data", supervisor: supervisor))
        }
        let cluster = try LocalCluster(layout: layout, runDirectory: dir, binary: options.binary, supervisor: supervisor)
        let webhook = WebhookReceiver()
        try await webhook.start()
        do {
            let result = try await measure(cluster, webhook, log: log)
            await cluster.shutdown()
            await webhook.close()
            return result
        } catch {
            await cluster.shutdown()
            await webhook.close()
            throw error
        }
    }

    func measure(_ c: LocalCluster, _ webhook: WebhookReceiver, log: (String) -> Void) async throws -> Result {
        let booted = Date()
        try await c.startAll()
        let token = try await c.login()
        let bootSeconds = Date().timeIntervalSince(booted)
        log(String(format: "cluster up in %.2fs (db: %@): %@", bootSeconds, options.database.scenarioName, c.runningNames.joined(separator: " ")))
        try await c.patchSettings(.object(["webhooks": .object(["url": .string(webhook.url)])]))
        try await c.register()
        if options.shards > 1 { try await c.setShards(options.shards) }
        try await c.waitForHealth(timeout: 30) { $0.hosts(status: "connected", role: "coreapp").count == min(options.shards, options.coreapps) }
        log("registered, \(options.shards) shard(s) connected; load: \(options.connections) connections × depth \(options.pipelineDepth) for \(options.duration)s after \(options.warmup)s warm-up")

        let plan = LoadPlan(host: "127.0.0.1", port: c.webappAddress.port, connections: options.connections, pipelineDepth: options.pipelineDepth,
                            duration: .milliseconds(Int(options.duration * 1000)), warmup: .milliseconds(Int(options.warmup * 1000)),
                            maxRequests: nil, targetRate: options.rate)
        let template = RequestTemplate(method: "POST", path: "/v1/messages",
                                       headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")]) { n in
            Array("{\"to\":\"1555\(String(format: "%07d", n % 1_000_000))\",\"type\":\"text\",\"text\":{\"body\":\"bench \(n)\"}}".utf8)
        }
        let pids = Dictionary(uniqueKeysWithValues: c.runningNames.compactMap { n in c.process(n).map { (n, $0.pid) } })
        let started = Date()
        let cpuBefore = CPUProfile.sample(pids)
        // PostgreSQL: sample the server's client connections while the load runs.
        let sampler: Task<Int, Never>? = c.databaseConfig.engine == .pgsql ? Task {
            var most = 0
            while !Task.isCancelled {
                if let n = try? PostgresClusterStore.clientConnections(config: c.databaseConfig, timeout: 2) { most = max(most, n) }
                try? await Polling.pause(seconds: 0.5)
            }
            return most
        } : nil
        let load = try await LoadRunner.run(plan, template, group: MultiThreadedEventLoopGroup.singleton)
        let loadEnded = Date()
        let cpuAfter = CPUProfile.sample(pids)
        sampler?.cancel()
        let connections = await sampler?.value
        var ids: [String] = []
        ids.reserveCapacity(load.accepted.count)
        for a in load.accepted {
            if let s = String(bytes: a.body, encoding: .utf8), let r = s.range(of: "\"id\":\"") {
                ids.append(String(s[r.upperBound...].prefix { $0 != "\"" }))
            }
        }
        log("load done: \(load.completed) answers, \(ids.count) accepted (all phases); draining")
        let messageCPU = CPUProfile(from: cpuBefore, to: cpuAfter, wallSeconds: loadEnded.timeIntervalSince(started))
        log("message path: " + messageCPU.perUnitDescription(units: ids.count, unitName: "accepted message"))

        // Drain: every accepted message acknowledged by the gateway and every callback delivered.
        let drainStart = Date()
        while Date().timeIntervalSince(drainStart) < 120 {
            if let db = try? await c.api("GET", "/v1/stats/db").json?["stats"]?["db"],
               db["messages_pending"]?.intValue == 0, db["callbacks_pending"]?.intValue == 0 { break }
            try await Polling.pause(seconds: 0.1)
        }
        let drained = Date()
        var arrivals: [String: Int] = [:]
        for e in c.gatewayJournal() where e["event"]?.stringValue == "message" {
            if let id = e["id"]?.stringValue { arrivals[id, default: 0] += 1 }
        }
        let lost = ids.filter { arrivals[$0] == nil }.count
        let duplicated = arrivals.values.filter { $0 > 1 }.count
        // The baselines, on the same machine in the same minute: the cluster is idle again (drained).
        let baselineSeconds = min(options.duration, 10)
        log("baselines: the cheapest route for \(baselineSeconds)s, then a bare SQLite group-commit loop for \(baselineSeconds)s")
        let routeStarted = Date()
        let routeCPUBefore = CPUProfile.sample(pids)
        let route = try await BenchBaselines.cheapestRoute(port: c.webappAddress.port, connections: options.connections,
                                                           pipelineDepth: options.pipelineDepth, duration: baselineSeconds, warmup: 1)
        let routeCPU = CPUProfile(from: routeCPUBefore, to: CPUProfile.sample(pids), wallSeconds: Date().timeIntervalSince(routeStarted))
        log("cheapest route: " + routeCPU.perUnitDescription(units: route.answers, unitName: "answer"))
        let sqlite = try await BenchBaselines.sqliteGroupCommit(directory: c.runDirectory, batch: options.connections, duration: baselineSeconds)
        let measured = Double(load.elapsed.components.seconds) + Double(load.elapsed.components.attoseconds) / 1e18
        let refused = load.byStatus.filter { $0.key != 201 }.values.reduce(0, +)
        let total = drained.timeIntervalSince(started)
        return Result(accepted: ids.count, refused: refused, errors: load.errors, measuredSeconds: measured,
                      acceptedPerSecond: load.throughput, deliveredPerSecond: Double(ids.count - lost) / max(0.001, total),
                      drainSeconds: drained.timeIntervalSince(loadEnded),
                      p50ms: ms(load.latency.percentile(50)), p99ms: ms(load.latency.percentile(99)), maxms: ms(load.latency.max),
                      lost: lost, duplicated: duplicated, webhookRequests: webhook.requestCount, bootSeconds: bootSeconds,
                      databaseConnections: connections, baselineRoutePerSecond: route.perSecond,
                      baselineSQLiteCommitsPerSecond: sqlite.commitsPerSecond, baselineSQLiteRowsPerSecond: sqlite.rowsPerSecond,
                      cpuMicrosPerMessage: messageCPU.perUnit(ids.count), cpuMicrosPerRouteAnswer: routeCPU.perUnit(route.answers))
    }

    func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
}
