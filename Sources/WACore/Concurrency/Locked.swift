import Synchronization

/// The one lock type of the package: a value reachable only under its lock (the standard
/// library's `Mutex`), so a class holding its state in one is `Sendable` without `@unchecked`.
/// Keep the closures short: event loops and the cooperative pool wait on them.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) { mutex = Mutex(value) }

    /// Runs `body` with exclusive access to the value.
    public func withLock<Result: Sendable>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try mutex.withLock { value in try body(&value) }
    }

    /// A copy of the value now.
    public var value: Value { mutex.withLock { $0 } }
}
