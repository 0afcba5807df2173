import WACore
import NIOCore

/// Collects every byte an echo server received, from any connection and any event loop, and
/// lets a test wait for a given count with a timeout.
final class ByteRecorder: Sendable {
    private struct Waiter {
        let count: Int
        let promise: EventLoopPromise<Bool>
    }

    private struct Contents {
        var bytes: [UInt8] = []
        var waiters: [Int: Waiter] = [:]
        var nextWaiter = 0
    }

    private let contents = Locked(Contents())

    var bytes: [UInt8] { contents.withLock { $0.bytes } }
    var text: String { String(decoding: bytes, as: UTF8.self) }

    func append(_ chunk: [UInt8]) {
        let satisfied = contents.withLock { contents -> [Waiter] in
            contents.bytes += chunk
            let total = contents.bytes.count
            let ready = contents.waiters.filter { $0.value.count <= total }
            for key in ready.keys {
                contents.waiters.removeValue(forKey: key)
            }
            return Array(ready.values)
        }
        satisfied.forEach { $0.promise.succeed(true) }
    }

    /// True once at least `count` bytes were received in total, false if `timeout` passes first.
    func waitFor(count: Int, within timeout: TimeAmount) async throws -> Bool {
        let loop = Waiting.loop
        let promise = loop.makePromise(of: Bool.self)
        let key = contents.withLock { contents -> Int? in
            if contents.bytes.count >= count { return nil }
            contents.nextWaiter += 1
            contents.waiters[contents.nextWaiter] = Waiter(count: count, promise: promise)
            return contents.nextWaiter
        }
        guard let key else { return true }
        let timer = loop.scheduleTask(in: timeout) { [contents] in
            // Whoever removes the waiter completes it, so it is completed exactly once.
            let expired = contents.withLock { $0.waiters.removeValue(forKey: key) }
            expired?.promise.succeed(false)
        }
        let result = try await promise.futureResult.get()
        timer.cancel()
        return result
    }
}
