import WACore

/// A `nemesis` step: faults drawn at random from the seed, one after another.
public struct NemesisPlan: Equatable, Sendable {
    public enum Fault: String, CaseIterable, Sendable { case kill, pause, partition, delay, restart, skew, gateway }
    /// `owners`: the owner of a random shard, resolved when the fault goes in (the schedule
    /// written out names the node it resolved to).
    public enum Targets: String, CaseIterable, Sendable { case coreapp, master, any, owners }

    public var faults: [Fault]
    /// Logical seconds from one fault's start to the next.
    public var interval: LogicalSeconds
    /// Logical seconds of the whole nemesis.
    public var duration: LogicalSeconds
    /// How long each fault is held before its heal (default: half the interval).
    public var hold: LogicalSeconds?
    public var targets: Targets
    /// Faults active at once, on distinct nodes (default 1, so at most one per shard).
    public var concurrent: Int
    /// Overrides the scenario's seed for the draw.
    public var seed: UInt64?

    public init(faults: [Fault], interval: LogicalSeconds = 10, duration: LogicalSeconds, hold: LogicalSeconds? = nil,
                targets: Targets = .coreapp, concurrent: Int = 1, seed: UInt64? = nil) {
        self.faults = faults; self.interval = interval; self.duration = duration; self.hold = hold
        self.targets = targets; self.concurrent = concurrent; self.seed = seed
    }

    public var effectiveHold: LogicalSeconds { hold ?? interval / 2 }
}

/// Draws a nemesis plan into plain steps, deterministically from the seed and the topology:
/// each fault with its heal, holds as sleeps, and a final heal of everything. The result is
/// what the runner executes and what it writes out as a scenario to replay.
public enum NemesisScheduler {
    /// Half the shortest lease TTL (the shard lease, 8 logical s): the largest skew the
    /// single-primary and no-conflict checks must survive (SPEC §14).
    public static let maximumSafeSkewMilliseconds = Int(ClusterTimings.standard.shardLeaseTTL * 1000 / 2)

    public static func schedule(_ plan: NemesisPlan, topology: Topology, shards: Int, seed: UInt64, line: Int) -> [Step] {
        var rng = SplitMix64(seed: plan.seed ?? seed)
        let coreapps = ClusterNodeNames.coreapps(count: max(1, topology.coreapps + topology.standbyCoreapps))
        let masters = masterNames(of: topology)
        let pool: [NodeSelector] = switch plan.targets {
        case .coreapp: coreapps.map { .name($0) }
        case .master: masters.map { .name($0) }
        case .any: (coreapps + masters).map { .name($0) }
        case .owners: (0..<max(1, shards)).map { .owner(shard: $0) }
        }
        var steps: [Step] = []
        let count = max(1, Int((plan.duration / plan.interval).rounded(.down)))
        let hold = min(plan.effectiveHold, plan.interval * Double(plan.concurrent))
        // Heals due, in logical seconds from the nemesis start, with the node they free.
        var pending: [(at: Double, node: NodeSelector?, steps: [Step])] = []
        var clock = 0.0
        func advance(to t: Double) {
            while let next = pending.min(by: { $0.at < $1.at }), next.at <= t {
                if next.at > clock { steps.append(.sleep(next.at - clock, line: line)); clock = next.at }
                steps += next.steps
                pending.removeAll { $0.at == next.at && $0.node == next.node }
            }
            if t > clock { steps.append(.sleep(t - clock, line: line)); clock = t }
        }
        func draw<T>(_ list: [T]) -> T { list[Int(rng.next() % UInt64(list.count))] }
        for i in 0..<count {
            advance(to: Double(i) * plan.interval)
            let busy = Set(pending.compactMap(\.node))
            let free = pool.filter { !busy.contains($0) }
            guard !free.isEmpty, pending.count < plan.concurrent, !plan.faults.isEmpty else { continue }
            let kind = draw(plan.faults)
            let node = draw(free)
            let target = NodeTarget(node)
            var heal: [Step] = []
            switch kind {
            case .kill:
                steps.append(.kill(target, line: line)); heal = [.start(target, line: line)]
            case .pause:
                steps.append(.pause(target, line: line)); heal = [.resume(target, line: line)]
            case .restart:
                steps.append(.restart(target, line: line))
            case .partition, .delay:
                // A coreapp may also be cut from every master at once (the control plane), the
                // cut that makes the masters fail it over while it still reaches the gateway.
                let everyMaster = "every master"
                let isMaster = masters.contains { node == .name($0) }
                let peers = [ClusterNodeNames.gateway, ClusterNodeNames.database] + (isMaster ? coreapps : masters + (masters.count > 1 ? [everyMaster] : []))
                let peer = draw(peers)
                let link = LinkSelector(from: node, to: .name(peer == everyMaster ? masters[0] : peer))
                if kind == .partition, peer == everyMaster {
                    let links = masters.map { LinkSelector(from: node, to: .name($0)) }
                    steps += links.map { .partition($0, direction: .both, line: line) }
                    heal = links.map { .heal(.link($0), line: line) }
                } else if kind == .partition {
                    steps.append(.partition(link, direction: .both, line: line))
                    heal = [.heal(.link(link), line: line)]
                } else {
                    let ms = 200 + Int(rng.next() % 1800)
                    steps.append(.delay(link, ms: ms, jitterMs: ms / 5, line: line))
                    heal = [.heal(.link(link), line: line)]
                }
            case .skew:
                let span = UInt64(2 * maximumSafeSkewMilliseconds + 1)
                let by = Int(rng.next() % span) - maximumSafeSkewMilliseconds
                steps.append(.skew(target, byMs: by, driftPPM: 0, line: line))
                heal = [.skew(target, byMs: 0, driftPPM: 0, line: line)]
            case .gateway:
                let shard = Int(rng.next() % UInt64(max(1, shards)))
                let fault: GatewayFault = switch rng.next() % 6 {
                case 0: .delayAcks(milliseconds: 500 + Int(rng.next() % 2500))
                case 1: .dropAcks(shard: shard)
                case 2: .refuseConnections
                case 3: .dropSession(shard: shard)
                case 4: .ban(seconds: max(1, (hold / 2).rounded()))
                default: .delayStatuses(milliseconds: 500 + Int(rng.next() % 2500))
                }
                steps.append(.gateway(fault, line: line))
                heal = [.gateway(.heal, line: line)]
            }
            pending.append((clock + hold, kind == .gateway ? nil : node, heal))
        }
        advance(to: max(plan.duration, pending.map(\.at).max() ?? 0))
        steps.append(.heal(.all, line: line))
        steps.append(.waitHealthy(timeout: 120, line: line))
        return steps
    }
}
