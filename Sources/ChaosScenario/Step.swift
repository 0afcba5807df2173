import WACore

/// The node a process step acts on, optionally bound to a label for later steps (`as: victim`).
public struct NodeTarget: Hashable, Sendable, CustomStringConvertible {
    /// Which node.
    public var selector: NodeSelector
    /// The label later steps may use as `$label` to mean the node this step resolved to.
    public var label: String?

    /// Creates a target.
    public init(_ selector: NodeSelector, label: String? = nil) {
        self.selector = selector
        self.label = label
    }

    /// The selector, plus ` as label` when bound.
    public var description: String { label.map { "\(selector) as $\($0)" } ?? selector.description }
}

/// The kinds of step, spelled as in the file.
public enum StepKind: String, CaseIterable, Sendable {
    case waitHealthy = "wait_healthy"
    case checkHealth = "check_health"
    case kill, stop, restart, start, pause, resume
    case partition, delay, bandwidth, reset, heal
    /// Packet faults (`--net netns`): `loss: {from, to, percent}`, `duplicate`, `corrupt`.
    case loss, duplicate, corrupt
    case expectFailover = "expect_failover"
    case expectNoFailover = "expect_no_failover"
    case expectPrimaryMaster = "expect_primary_master"
    case expectRecovery = "expect_recovery"
    case setShards = "set_shards"
    case dbLock = "db_lock"
    case sleep, run
    case skew, gateway, nemesis
    /// Which numbers the WhatsApp server says are on WhatsApp (`POST /v1/contacts`).
    case contacts
    /// Move the cluster to another build: its dbupgrade, then every node (SPEC §13).
    case upgrade
    /// A planned handover of one shard, asked of the primary master.
    case handover
    /// Only a build's `dbupgrade`, online: the nodes stay on their builds (N-1 on schema N).
    case dbupgrade
    /// Start, change or stop the message stream mid-run (what a session of `wachaos up` did).
    case workload
    /// `PATCH /v1/settings/application` mid-run.
    case settings

    /// Steps that disturb the cluster; `expect_failover` measures from the most recent one.
    public var isFault: Bool {
        switch self {
        case .kill, .stop, .restart, .pause, .partition, .delay, .bandwidth, .reset, .loss, .duplicate, .corrupt, .skew, .gateway, .nemesis,
             .dbLock, .upgrade, .handover: return true
        default: return false
        }
    }
}

/// One entry of the timeline; every case carries the line it was written on.
public enum Step: Equatable, Sendable {
    /// Wait until every running node reports healthy, failing after `timeout`.
    case waitHealthy(timeout: LogicalSeconds, line: Int)
    /// Compare `/v1/health` with `fixtures/health/<golden>`, retrying for up to `within` if given.
    case checkHealth(golden: String, within: LogicalSeconds?, line: Int)
    /// SIGKILL.
    case kill(NodeTarget, line: Int)
    /// SIGTERM.
    case stop(NodeTarget, line: Int)
    /// Stop, then start again with the same node id, data and ports.
    case restart(NodeTarget, line: Int)
    /// Start a node that is defined but not running.
    case start(NodeTarget, line: Int)
    /// SIGSTOP.
    case pause(NodeTarget, line: Int)
    /// SIGCONT.
    case resume(NodeTarget, line: Int)
    /// Drop (or reject) traffic on a link, both ways or only from `from` to `to`.
    case partition(LinkSelector, direction: PartitionDirection, mode: PartitionMode = .drop, line: Int)
    /// Lose, duplicate or corrupt a random `percent` of a link's packets, both ways (`--net netns`).
    case packets(LinkSelector, fault: PacketFault, percent: Int, line: Int)
    /// Add latency (logical milliseconds) in both directions of a link.
    case delay(LinkSelector, ms: Int, jitterMs: Int, line: Int)
    /// Limit a link's throughput, in bytes per logical second.
    case bandwidth(LinkSelector, bytesPerSecond: Int, line: Int)
    /// Reset the link's open connections.
    case reset(LinkSelector, line: Int)
    /// Remove network faults.
    case heal(HealScope, line: Int)
    /// A failover of the shard must complete within the bound, from the most recent fault step.
    case expectFailover(shard: Int, bound: FailoverBound, line: Int)
    /// The shard must keep its owner for `duration`; with `sinceFault`, also from the most recent
    /// fault step until then (the owner it had when that fault went in).
    case expectNoFailover(shard: Int, duration: LogicalSeconds, sinceFault: Bool, line: Int)
    /// The primary master must change within `within` (`changes: true`) or stay the same that long.
    case expectPrimaryMaster(changes: Bool, within: LogicalSeconds, line: Int)
    /// After the database is back (the latest heal of a fault on it), the cluster must be fully
    /// healthy within `within`, or within the bound the product states when nil.
    case expectRecovery(within: LogicalSeconds?, line: Int)
    /// The runner holds the SQLite write lock itself for `seconds` (the embedded engine only).
    case dbLock(seconds: LogicalSeconds, line: Int)
    /// `POST /v1/account/shards` with the new count.
    case setShards(Int, line: Int)
    /// Let time pass.
    case sleep(LogicalSeconds, line: Int)
    /// Run a shell command; a non-zero exit fails the scenario.
    case run(command: String, line: Int)
    /// Step one node's injected clock by `byMs` logical milliseconds and drift it (0, 0 heals).
    case skew(NodeTarget, byMs: Int, driftPPM: Int, line: Int)
    /// Make the simulated WhatsApp server misbehave (or `heal`).
    case gateway(GatewayFault, line: Int)
    /// Random faults drawn from the seed; the runner writes the schedule it ran.
    case nemesis(NemesisPlan, line: Int)
    /// `contacts: {on_whatsapp: [...], not_on_whatsapp: [...]}`: what the WhatsApp server
    /// answers for these numbers from now on (others keep the seeded answer).
    case contacts(onWhatsApp: [String], notOnWhatsApp: [String], line: Int)
    /// `upgrade: {to: new, strategy: rolling}`: the target build's dbupgrade, then the nodes.
    case upgrade(UpgradePlan, line: Int)
    /// `handover: {shard: 0}`: release, fence, promote, without waiting for failure detection.
    case handover(shard: Int, to: NodeSelector?, line: Int)
    /// `dbupgrade: new`: that build's dbupgrade against the running cluster's database.
    case dbupgrade(build: String, line: Int)
    /// `workload: {messages_per_second: 20, senders: 2}` starts the stream or changes its rate;
    /// `workload: stop` stops it.
    case workload(Workload?, line: Int)
    /// `settings: {heartbeat_interval: 10}`: these application settings from now on.
    case settings(SettingsOverrides, line: Int)

    /// The line of the step in its file.
    public var line: Int {
        switch self {
        case .waitHealthy(_, let line), .checkHealth(_, _, let line), .kill(_, let line), .stop(_, let line),
             .restart(_, let line), .start(_, let line), .pause(_, let line), .resume(_, let line),
             .partition(_, _, _, let line), .packets(_, _, _, let line), .delay(_, _, _, let line), .bandwidth(_, _, let line),
             .reset(_, let line), .heal(_, let line), .expectFailover(_, _, let line),
             .expectNoFailover(_, _, _, let line), .expectPrimaryMaster(_, _, let line),
             .expectRecovery(_, let line), .dbLock(_, let line),
             .setShards(_, let line), .sleep(_, let line), .run(_, let line), .skew(_, _, _, let line),
             .gateway(_, let line), .nemesis(_, let line), .contacts(_, _, let line), .upgrade(_, let line), .handover(_, _, let line), .dbupgrade(_, let line),
             .workload(_, let line), .settings(_, let line):
            return line
        }
    }

    /// The kind of step, as spelled in the file.
    public var kind: StepKind {
        switch self {
        case .waitHealthy: return .waitHealthy
        case .checkHealth: return .checkHealth
        case .kill: return .kill
        case .stop: return .stop
        case .restart: return .restart
        case .start: return .start
        case .pause: return .pause
        case .resume: return .resume
        case .partition: return .partition
        case .packets(_, let fault, _, _):
            switch fault { case .loss: return .loss; case .duplicate: return .duplicate; case .corrupt: return .corrupt }
        case .delay: return .delay
        case .bandwidth: return .bandwidth
        case .reset: return .reset
        case .heal: return .heal
        case .expectFailover: return .expectFailover
        case .expectNoFailover: return .expectNoFailover
        case .expectPrimaryMaster: return .expectPrimaryMaster
        case .expectRecovery: return .expectRecovery
        case .dbLock: return .dbLock
        case .setShards: return .setShards
        case .sleep: return .sleep
        case .run: return .run
        case .skew: return .skew
        case .gateway: return .gateway
        case .contacts: return .contacts
        case .upgrade: return .upgrade
        case .handover: return .handover
        case .dbupgrade: return .dbupgrade
        case .nemesis: return .nemesis
        case .workload: return .workload
        case .settings: return .settings
        }
    }

    /// True for steps that disturb the cluster (see `StepKind.isFault`).
    public var isFault: Bool { kind.isFault }
}

/// The order an upgrade moves nodes in (SPEC §13).
public enum UpgradeStrategy: String, CaseIterable, Sendable {
    /// The seeds' way: every node stops, every node starts on the new build; downtime accepted.
    case allAtOnce = "all-at-once"
    /// Webapps, secondary masters, the primary master, standbys, then each owner after a
    /// planned handover.
    case rolling
    /// The rolling moves in an order drawn from the seed, printed before it runs.
    case random
}

/// One `upgrade` step.
public struct UpgradePlan: Equatable, Sendable {
    /// The build the nodes move to.
    public var to: String
    public var strategy: UpgradeStrategy
    /// For `random`: the order's seed (default: the run's seed).
    public var seed: UInt64?
    /// Test-only: the target build's dbupgrade fails (`WA_TEST_FAIL_DBUPGRADE`), and the step
    /// proves the cluster was left on its build, serving.
    public var failDBUpgrade: Bool
    /// The longest any shard may go without an accepted send during the upgrade, logical
    /// seconds; nil: measured and reported, not bounded.
    public var maxUnavailable: LogicalSeconds?
    public init(to: String, strategy: UpgradeStrategy, seed: UInt64? = nil, failDBUpgrade: Bool = false, maxUnavailable: LogicalSeconds? = nil) {
        self.to = to; self.strategy = strategy; self.seed = seed; self.failDBUpgrade = failDBUpgrade; self.maxUnavailable = maxUnavailable
    }
}
