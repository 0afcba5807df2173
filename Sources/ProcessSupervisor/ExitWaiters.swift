import Foundation

/// Suspended `waitForExit` callers of one child, resumed at exit, at their timeout, or on
/// cancellation, whichever comes first. Timeouts use DispatchQueue.asyncAfter, not sleeping.
final class ExitWaiters: @unchecked Sendable {
    // @unchecked: `waiting`, `cancelledEarly`, `nextID` and `outcome` are guarded by `lock`.
    private let lock = NSLock()
    private var waiting: [UInt64: CheckedContinuation<ExitStatus?, Never>] = [:]
    private var cancelledEarly = Set<UInt64>()
    private var nextID: UInt64 = 0
    private var outcome: ExitStatus?

    /// Waits for `finish(with:)`; nil if `timeout` passes first or the task is cancelled.
    func wait(timeout: Duration?) async -> ExitStatus? {
        let id = lock.withLock { () -> UInt64 in
            nextID += 1
            return nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let immediate: ExitStatus?? = lock.withLock {
                    if let outcome { return .some(outcome) }
                    if cancelledEarly.remove(id) != nil { return .some(nil) }
                    waiting[id] = continuation
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
            let pending = lock.withLock { () -> Bool in
                if waiting[id] == nil { cancelledEarly.insert(id) } // cancelled before it registered
                return waiting[id] != nil
            }
            if pending { resume(id, with: nil) }
        }
    }

    /// Records the outcome and resumes every waiter with it; later waits return it at once.
    func finish(with value: ExitStatus) {
        let all = lock.withLock { () -> [CheckedContinuation<ExitStatus?, Never>] in
            outcome = value
            defer { waiting.removeAll() }
            return Array(waiting.values)
        }
        all.forEach { $0.resume(returning: value) }
    }

    private func resume(_ id: UInt64, with value: ExitStatus?) {
        lock.withLock { waiting.removeValue(forKey: id) }?.resume(returning: value)
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
