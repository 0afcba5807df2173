import Foundation
import Synchronization

/// Suspended `waitForExit` callers of one child, resumed at exit, at their timeout, or on
/// cancellation, whichever comes first. Timeouts use DispatchQueue.asyncAfter, not sleeping.
final class ExitWaiters: Sendable {
    private struct State {
        var waiting: [UInt64: CheckedContinuation<ExitStatus?, Never>] = [:]
        var cancelledEarly = Set<UInt64>()
        var nextID: UInt64 = 0
        var outcome: ExitStatus?
    }
    private let state = Mutex(State())

    /// Waits for `finish(with:)`; nil if `timeout` passes first or the task is cancelled.
    func wait(timeout: Duration?) async -> ExitStatus? {
        let id = state.withLock { s -> UInt64 in
            s.nextID += 1
            return s.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let immediate: ExitStatus?? = state.withLock { s in
                    if let outcome = s.outcome { return .some(outcome) }
                    if s.cancelledEarly.remove(id) != nil { return .some(nil) }
                    s.waiting[id] = continuation
                    return .none
                }
                if let immediate {
                    continuation.resume(returning: immediate)
                    return
                }
                if let timeout {
                    DispatchQueue.global().asyncAfter(deadline: .now() + timeout.dispatchInterval) { [self] in
                        resume(id, with: nil)
                    }
                }
            }
        } onCancel: {
            let pending = state.withLock { s -> Bool in
                if s.waiting[id] == nil { s.cancelledEarly.insert(id) } // cancelled before it registered
                return s.waiting[id] != nil
            }
            if pending { resume(id, with: nil) }
        }
    }

    /// Records the outcome and resumes every waiter with it; later waits return it at once.
    func finish(with value: ExitStatus) {
        let all = state.withLock { s -> [CheckedContinuation<ExitStatus?, Never>] in
            s.outcome = value
            defer { s.waiting.removeAll() }
            return Array(s.waiting.values)
        }
        all.forEach { $0.resume(returning: value) }
    }

    private func resume(_ id: UInt64, with value: ExitStatus?) {
        state.withLock { $0.waiting.removeValue(forKey: id) }?.resume(returning: value)
    }
}

extension Duration {
    /// For DispatchTime arithmetic (nanosecond precision is plenty for process timeouts).
    var dispatchInterval: DispatchTimeInterval {
        let (seconds, attoseconds) = components
        let nanoseconds = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if nanoseconds.overflow || seconds < 0 { return seconds < 0 ? .nanoseconds(0) : .never }
        return .nanoseconds(Int(nanoseconds.partialValue + attoseconds / 1_000_000_000))
    }
}
