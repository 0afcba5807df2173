import Foundation
import Synchronization

extension Supervisor {
    /// On SIGINT, SIGTERM or SIGHUP to the runner: SIGKILL every managed group and adopted
    /// orphan, then exit with 128 + signal (130, 143, 129). Process-wide; call once at start-up.
    public func installSignalHandlers() {
        SignalTeardown.shared.register(self)
    }

    /// The same, except that the first signal calls `gracefully` (a session ends itself: its
    /// nodes stopped, its reports written) and only a second one tears everything down at once.
    public func installSignalHandlers(gracefully: @escaping @Sendable (Int32) -> Void) {
        SignalTeardown.shared.register(self, gracefully: gracefully)
    }
}

/// The runner's reaction to being asked to stop: take every node down with it.
/// (A SIGKILLed runner cannot react; PR_SET_PDEATHSIG covers that case.)
final class SignalTeardown: Sendable {
    static let shared = SignalTeardown()

    private struct WeakSupervisor { weak var supervisor: Supervisor? }

    private struct State {
        var supervisors: [WeakSupervisor] = []
        var sources: [DispatchSourceSignal] = []
        var graceful: (@Sendable (Int32) -> Void)?
    }

    // Taking it in `tearDown` is fine: Dispatch runs signal sources' handlers on `queue`, not
    // in signal-handler context.
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "ProcessSupervisor.signals") // delivers the signals; not a lock

    func register(_ supervisor: Supervisor, gracefully: (@Sendable (Int32) -> Void)? = nil) {
        state.withLock { s in
            s.supervisors.append(WeakSupervisor(supervisor: supervisor))
            if let gracefully { s.graceful = gracefully }
            if s.sources.isEmpty { s.sources = [SIGINT, SIGTERM, SIGHUP].map(makeSource) }
        }
    }

    private func makeSource(for signalNumber: Int32) -> DispatchSourceSignal {
        // Without this the default action would end the runner before Dispatch sees the signal.
        // Children do not inherit the SIG_IGN: the shim resets every disposition before exec.
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
        source.setEventHandler { [self] in
            // One graceful attempt, taken once: the next signal is the hard stop.
            if let graceful = state.withLock({ s -> (@Sendable (Int32) -> Void)? in defer { s.graceful = nil }; return s.graceful }) {
                graceful(signalNumber)
                return
            }
            tearDown(exitCode: 128 + signalNumber)
        }
        source.resume()
        return source
    }

    private func tearDown(exitCode: Int32) {
        let live = state.withLock { $0.supervisors.compactMap(\.supervisor) }
        live.forEach { $0.killAll() }
        exit(exitCode)
    }
}
