/// One reaped managed process, as delivered to `onExit` handlers and `exitEvents()` streams.
public struct ExitEvent: Sendable, Hashable {
    /// The spec's name (the same across restarts).
    public let name: String
    /// The pid of the incarnation that ended.
    public let pid: Int32
    /// How it ended.
    public let status: ExitStatus
    /// Monotonic time of the spawn.
    public let spawnedAt: ContinuousClock.Instant
    /// Monotonic time the reaper collected the exit.
    public let exitedAt: ContinuousClock.Instant

    /// How long this incarnation lived.
    public var lifetime: Duration { spawnedAt.duration(to: exitedAt) }
}
