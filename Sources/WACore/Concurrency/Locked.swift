import Synchronization

/// The one lock type of the package: a value reachable only under its lock (the standard
/// library's `Mutex`), so a class holding its state in one is `Sendable` without `@unchecked`.
/// Keep the closures short: event loops and the cooperative pool wait on them.
public final class Locked<Value: Sendable>: Sendable {
    // Inlinable, so callers in other modules get it specialised for their value: unspecialised,
    // every call looked up generic metadata at run time (the message benchmark's profile).
    @usableFromInline let mutex: Mutex<Value>

    @inlinable public init(_ value: Value) { mutex = Mutex(value) }

    /// Runs `body` with exclusive access to the value.
    @inlinable public func withLock<Result: Sendable>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try mutex.withLock { value in try body(&value) }
    }

    /// A copy of the value now.
    @inlinable public var value: Value { mutex.withLock { $0 } }
}
