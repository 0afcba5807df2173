import ChaosScenario

/// What carries the cluster's links and injects faults on them: the userspace proxy mesh
/// (`--net proxy`) or kernel rules in the hosts' network namespaces (`--net netns`). The
/// runner's steps speak to this alone; each fabric refuses, in one line, what it cannot do.
protocol LinkFabric: AnyObject {
    var mode: NetworkMode { get }
    /// Cuts the pair, both ways or only traffic from `from` to `to`.
    func partition(_ from: String, _ to: String, oneWay: Bool, mode: PartitionMode) throws
    /// Delays both directions of the pair (real milliseconds).
    func delay(_ from: String, _ to: String, milliseconds: Int, jitterMilliseconds: Int) async throws
    /// Paces both directions of the pair (real bytes per second).
    func bandwidth(_ from: String, _ to: String, bytesPerSecond: Int) throws
    /// One-shot: resets the pair's open connections.
    func reset(_ from: String, _ to: String) throws
    /// A random share of the pair's packets lost, duplicated or corrupted, both ways.
    func packets(_ from: String, _ to: String, fault: PacketFault, percent: Int) throws
    func heal(_ from: String, _ to: String) throws
    func healAll() throws
    /// The faults in force, one line each (`A->B: …`).
    var activeFaults: [String] { get }
    /// What the report should say about how this fabric carried the run's faults.
    var notes: [String] { get }
    func stop() async
}

extension LinkMesh: LinkFabric {
    var mode: NetworkMode { .proxy }

    func partition(_ from: String, _ to: String, oneWay: Bool, mode: PartitionMode) throws {
        guard mode == .drop else {
            throw RunnerError("partition mode: reject needs --net netns: the proxy mesh can only drop bytes, it cannot answer for the peer with a reset")
        }
        try partition(from, to, oneWay: oneWay)
    }

    func delay(_ from: String, _ to: String, milliseconds: Int, jitterMilliseconds: Int) async throws {
        try apply(.delay(milliseconds: milliseconds, jitterMilliseconds: jitterMilliseconds), from, to)
    }

    func bandwidth(_ from: String, _ to: String, bytesPerSecond: Int) throws { try apply(.bandwidth(bytesPerSecond: bytesPerSecond), from, to) }

    func reset(_ from: String, _ to: String) throws { try apply(.reset, from, to) }

    func packets(_ from: String, _ to: String, fault: PacketFault, percent: Int) throws {
        throw RunnerError("\(fault.rawValue) needs --net netns: the proxy mesh relays bytes over TCP and never sees a packet")
    }

    var notes: [String] { [] }
}
