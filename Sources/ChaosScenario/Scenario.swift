/// Durations in scenario files are logical seconds: real seconds = logical * time scale.
public typealias LogicalSeconds = Double

/// One chaos scenario: the cluster to start and the timeline of steps to run against it.
public struct Scenario: Equatable, Sendable {
    /// Scenario identifier, `[a-z0-9-]+`; names reports and run folders.
    public var name: String
    /// Free text for humans; empty when the file has none.
    public var description: String
    /// Real seconds per logical second, if the file sets one (the command line overrides it).
    public var timeScale: Double?
    /// Seed for every random choice, if the file sets one (the command line overrides it).
    public var seed: UInt64?
    /// The nodes to define and start.
    public var topology: Topology
    /// Application settings applied after boot, in logical seconds.
    public var settings: SettingsOverrides
    /// Whether the runner registers the account at boot.
    public var register: Bool
    /// Shard count at boot (1, 2, 4, 8, 16 or 32).
    public var shards: Int
    /// A message stream sent through the API for the whole timeline, if any.
    public var workload: Workload?
    /// The timeline, in file order.
    public var steps: [Step]
    /// The path the scenario was read from, as given to the loader; names the file in errors.
    public var file: String

    /// Creates a scenario; the loader is the usual way to get one.
    public init(name: String, description: String = "", timeScale: Double? = nil, seed: UInt64? = nil,
                topology: Topology, settings: SettingsOverrides = SettingsOverrides(), register: Bool = true,
                shards: Int = 1, workload: Workload? = nil, steps: [Step], file: String) {
        self.workload = workload
        self.name = name
        self.description = description
        self.timeScale = timeScale
        self.seed = seed
        self.topology = topology
        self.settings = settings
        self.register = register
        self.shards = shards
        self.steps = steps
        self.file = file
    }

    /// The shard counts the product accepts for `POST /v1/account/shards`.
    public static let allowedShardCounts: [Int] = [1, 2, 4, 8, 16, 32]

    /// The allowed range of `time_scale`: positive, at most 10 (a slowed-down run).
    static let timeScaleRange: ClosedRange<Double> = Double.leastNonzeroMagnitude...10
}

/// Messages sent during a scenario, so the runner can prove that every accepted message
/// reached the WhatsApp server exactly once and its status reached the webhook.
public struct Workload: Equatable, Sendable {
    /// Messages per real second, over all senders.
    public var messagesPerSecond: Double
    /// Concurrent senders.
    public var senders: Int
    /// The vacuity guard: a fault window with fewer accepted sends makes the loss checks
    /// unknown instead of pass (`min_sends_per_fault`, default 20).
    public var minSendsPerFault: Int
    public init(messagesPerSecond: Double, senders: Int = 2, minSendsPerFault: Int = Workload.defaultMinSendsPerFault) {
        self.messagesPerSecond = messagesPerSecond; self.senders = senders; self.minSendsPerFault = minSendsPerFault
    }
    public static let defaultMinSendsPerFault = 20
}

extension Scenario {
    /// Whether a step (or a nemesis that may draw one) delays a link.
    public var delaysLinks: Bool {
        steps.contains { step in
            switch step {
            case .delay: true
            case .nemesis(let plan, _): plan.faults.contains(.delay)
            default: false
            }
        }
    }
}
