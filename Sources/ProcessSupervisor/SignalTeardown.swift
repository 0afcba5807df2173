import Foundation
import Synchronization

extension Supervisor {
    /// On SIGINT, SIGTERM or SIGHUP to the runner: SIGKILL every managed group and adopted
    /// orphan, then exit with 128 + signal (130, 143, 129). Process-wide; call once at start-up.
    public func installSignalHandlers() {
        SignalTeardown.shared.register(self)
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
    }

    // Taking it in `tearDown` is fine: Dispatch runs signal sources' handlers on `queue`, not
    // in signal-handler context.
    private let state = Mutex(State())
    private let queue = DispatchQueue(label: "ProcessSupervisor.signals") // delivers the signals; not a lock

    func register(_ supervisor: Supervisor) {
        state.withLock { s in
            s.supervisors.append(WeakSupervisor(supervisor: supervisor))
            if s.sources.isEmpty { s.sources = [SIGINT, SIGTERM, SIGHUP].map(makeSource) }
        }
    }

    private func makeSource(for signalNumber: Int32) -> DispatchSourceSignal {
        // Without this the default action would end the runner before Dispatch sees the signal.
        // Children do not inherit the SIG_IGN: the shim resets every disposition before exec.
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
        source.setEventHandler { [self] in tearDown(exitCode: 128 + signalNumber) }
        source.resume()
        return source
    }

    private func tearDown(exitCode: Int32) {
        let live = state.withLock { $0.supervisors.compactMap(\.supervisor) }
        live.forEach { $0.killAll() }
        exit(exitCode)
    }
}
