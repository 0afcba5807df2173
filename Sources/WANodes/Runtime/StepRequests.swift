/// The passes asked of a controller while one runs. Two passes never interleave (the actors are
/// re-entrant at awaits), yet a caller that asks meanwhile must not be dropped: a master's
/// `ShardMapChanged` that lands while the coreapp's periodic pass has already read the old map
/// would otherwise wait a whole tick. Such a caller waits for the next pass, which every caller
/// that asked during the running one shares; each returns after a pass that began after it asked
/// (the caller running the passes runs them until no one waits).
/// Owned by one actor and used only on it (hence `isolation`, not `Sendable`).
public final class StepRequests {
    private var running = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init() {}

    /// Callers waiting for the next pass.
    public var waitingCallers: Int { waiting.count }

    public func run(isolation: isolated (any Actor)? = #isolation, _ pass: () async -> Void) async {
        guard !running else {
            await withCheckedContinuation(isolation: isolation) { waiting.append($0) }
            return
        }
        running = true
        var served: [CheckedContinuation<Void, Never>] = []
        repeat {
            await pass()
            for caller in served { caller.resume() }
            served = waiting
            waiting = []
        } while !served.isEmpty
        running = false
    }
}
