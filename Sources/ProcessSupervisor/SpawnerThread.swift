import Foundation

/// The one long-lived thread every fork happens on.
///
/// Linux fires PR_SET_PDEATHSIG when the *thread* that forked the child exits, not the process.
/// Swift concurrency and Dispatch retire idle threads, so forking from them would kill nodes at
/// random moments. This thread lives as long as the supervisor that owns it.
// @unchecked: `jobs` and `stopping` are guarded by `condition` (an NSCondition, since the thread waits on it; `Mutex` cannot); a job's non-Sendable closure runs on the spawner thread while `perform`'s caller blocks.
final class SpawnerThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var stopping = false

    init(name: String) {
        let thread = Thread { [self] in runJobs() }
        thread.name = name
        thread.start()
    }

    /// Runs `work` on the spawner thread and blocks the caller until it has finished.
    func perform<T>(_ work: @escaping () throws -> T) throws -> T {
        var result: Result<T, Error>?
        let done = DispatchSemaphore(value: 0)
        condition.withLock {
            jobs.append {
                result = Result(catching: work)
                done.signal()
            }
            condition.signal()
        }
        done.wait()
        return try result!.get()
    }

    /// Lets the thread finish; only call once no child it forked is alive.
    func stop() {
        condition.withLock {
            stopping = true
            condition.signal()
        }
    }

    private func runJobs() {
        while true {
            let batch: [() -> Void] = condition.withLock {
                while jobs.isEmpty && !stopping { condition.wait() }
                defer { jobs.removeAll() }
                return jobs
            }
            if batch.isEmpty { return } // stopping, and nothing left to do
            batch.forEach { $0() }
        }
    }
}
