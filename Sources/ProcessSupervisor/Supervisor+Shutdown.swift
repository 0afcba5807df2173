import Foundation

extension Supervisor {
    /// How long to wait for reaping after SIGKILL before giving up on a child (stuck in state D).
    private static let killWait = Duration.seconds(5)

    /// SIGTERM every live group and adopted orphan, wait up to `grace`, SIGKILL what is left,
    /// and wait for it to be reaped. Later spawns throw `.shutDown`. Safe to call again.
    public func shutdown(grace: Duration = .seconds(5)) async {
        state.withLock { $0.isShutDown = true }
        let graceDeadline = ContinuousClock.now + grace
        signalEverything(SIGTERM)
        signalEverything(SIGCONT) // a paused node cannot act on SIGTERM until it runs again
        await waitForEverything(until: graceDeadline)

        let killDeadline = ContinuousClock.now + Self.killWait
        killAll()
        await waitForEverything(until: killDeadline)
        await killOrphansUntilNoneAreLeft(until: killDeadline)
    }

    /// SIGKILL to every live managed group and adopted orphan, at once and without waiting.
    public func killAll() {
        signalEverything(SIGKILL)
    }

    private func signalEverything(_ signal: Int32) {
        liveProcesses.forEach { $0.signal(signal) }
        adoptedOrphans.forEach { $0.signal(signal) }
    }

    var adoptedOrphans: [AdoptedOrphan] {
        state.withLock { Array($0.adopted.values) }
    }

    private func waitForEverything(until deadline: ContinuousClock.Instant) async {
        let processes = liveProcesses
        let orphans = adoptedOrphans
        let remaining = ContinuousClock.now.duration(to: deadline)
        await withTaskGroup(of: Void.self) { group in
            for process in processes { group.addTask { _ = await process.waitForExit(timeout: remaining) } }
            for orphan in orphans { group.addTask { _ = await orphan.waitForExit(timeout: remaining) } }
        }
    }

    /// Killing a node reparents its setsid'd descendants to the runner (when it is a subreaper):
    /// adopt them, kill them, and repeat, since each kill can orphan the next generation.
    private func killOrphansUntilNoneAreLeft(until deadline: ContinuousClock.Instant) async {
        guard adoptsOrphans else { return }
        while ContinuousClock.now < deadline {
            adoptOrphans() // kills each newly adopted orphan, since we are shut down
            let orphans = adoptedOrphans
            if orphans.isEmpty { return }
            orphans.forEach { $0.signal(SIGKILL) }
            await waitForEverything(until: deadline)
        }
    }
}
