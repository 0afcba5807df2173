import CProcessShim
import Foundation
import Synchronization

/// One background thread that collects the exits of a supervisor's children as they happen.
///
/// It waits in poll(2) on a pidfd per child (readable when that child exits) plus a wake pipe,
/// and reaps only the pids it watches: a `waitpid(-1)` would steal the exit statuses of
/// children started elsewhere in the runner (Foundation.Process, test harnesses).
final class Reaper: Sendable {
    private struct Watched {
        let child: ReapableChild
        let pidfd: Int32 // -1 where pidfd_open is unavailable: checked on a short timer instead
    }

    private struct State {
        var watched: [pid_t: Watched] = [:]
        var stopping = false
        var sweep: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())
    private let wakeRead: Int32
    private let wakeWrite: Int32

    /// How often to look for newly adopted orphans, and to poll children without a pidfd.
    private static let sweepIntervalMilliseconds: Int32 = 1000
    private static let sweepInterval = Duration.milliseconds(sweepIntervalMilliseconds)
    private static let fallbackPollMilliseconds: Int32 = 20

    init(name: String) {
        var fds: [Int32] = [-1, -1]
        if wa_wake_pipe(&fds) != 0 { fatalError("ProcessSupervisor: cannot create the reaper's wake pipe") }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    /// Starts watching `child`; its exit is collected even if it already happened.
    func watch(_ child: ReapableChild) {
        let pidfd = wa_pidfd_open(child.pid)
        state.withLock { $0.watched[child.pid] = Watched(child: child, pidfd: max(pidfd, -1)) }
        wake()
    }

    /// Installs a periodic task (orphan adoption), also run right after every reap.
    func setSweep(_ task: @escaping @Sendable () -> Void) {
        state.withLock { $0.sweep = task }
        wake()
    }

    /// Ends the thread; children still watched are abandoned.
    func stop() {
        state.withLock { $0.stopping = true }
        wake()
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1) // a full pipe already means "wake up"
    }

    private func run() {
        var lastSweep = ContinuousClock.now
        while true {
            let (snapshot, sweep, stop) = state.withLock { (Array($0.watched.values), $0.sweep, $0.stopping) }
            if stop { break }

            var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            fds += snapshot.map { pollfd(fd: $0.pidfd, events: Int16(POLLIN), revents: 0) } // fd -1 is skipped
            let needsFallback = snapshot.contains { $0.pidfd < 0 }
            let timeout = needsFallback ? Self.fallbackPollMilliseconds : (sweep == nil ? -1 : Self.sweepIntervalMilliseconds)
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 && errno != EINTR { fatalError("ProcessSupervisor: reaper poll failed: \(errnoText(errno))") }
            drainWakePipe()

            var reapedAny = false
            for (index, entry) in snapshot.enumerated() where entry.pidfd < 0 || fds[index + 1].revents != 0 {
                if entry.child.reapIfExited() {
                    forget(entry)
                    reapedAny = true
                }
            }
            // Orphans appear when their parent exits: look right after a reap, and on the timer.
            if let sweep, reapedAny || lastSweep.duration(to: .now) >= Self.sweepInterval {
                lastSweep = .now
                sweep()
            }
        }
        state.withLock { s in
            s.watched.values.forEach { if $0.pidfd >= 0 { close($0.pidfd) } }
            s.watched.removeAll()
        }
    }

    deinit {
        // Here, not when the loop ends: a late wake() must never write into a reused fd number.
        close(wakeRead)
        close(wakeWrite)
    }

    private func forget(_ entry: Watched) {
        state.withLock { _ = $0.watched.removeValue(forKey: entry.child.pid) }
        if entry.pidfd >= 0 { close(entry.pidfd) }
    }

    private func drainWakePipe() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }
}
