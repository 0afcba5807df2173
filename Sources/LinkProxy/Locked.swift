import Foundation

/// A value guarded by a lock. Proxy state is touched from callers' tasks and from several event
/// loops at once, and NSLock keeps the target free of extra package dependencies.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with exclusive access to the value; keep it short, it blocks event loops.
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
