import NIOCore
import WACore

/// How the source side of a direction ended, and so how its destination must be told.
enum StreamEnd {
    /// The source half-closed (FIN): shut the destination's write side only.
    case halfClose
    /// The source socket is gone: close the destination entirely.
    case fullClose
}

/// One direction of one proxied connection. It takes the chunks read from the source socket,
/// applies the active fault, and writes them to the destination socket strictly in order.
/// Only ever touched on the connection's event loop.
final class DirectionalRelay {
    /// A chunk waiting for its release time (delay) or for tokens (bandwidth).
    private struct PendingChunk {
        var bytes: ByteBuffer
        let releaseAt: NIODeadline
    }

    let direction: LinkDirection
    /// Told when the relay has room again, so that it reads more from the source socket.
    weak var source: RelayChannelHandler?

    private let destination: Channel
    private let board: FaultBoard
    private let counters: CounterStore
    private var random: SplitMix64

    private var queue = CircularBuffer<PendingChunk>()
    private var queuedBytes = 0
    private var seenGeneration: UInt64?
    private var fault: LinkFault?
    private var bucket: TokenBucket?
    /// The latest release time handed out; later chunks never leave before it (no reordering).
    private var lastRelease = NIODeadline.uptimeNanoseconds(0)
    private var wakeUp: Scheduled<Void>?
    private var pendingEnd: StreamEnd?
    private var ended = false
    private var destinationOpen = true
    /// Set once this direction has lost bytes to a cut. TCP never delivers a stream with a hole in
    /// it, so from then on the direction stays silent, even after heal, like a connection stuck
    /// retransmitting; the peers' timeouts are expected to replace it. Idle directions recover.
    private var severed = false

    init(direction: LinkDirection, destination: Channel, board: FaultBoard, counters: CounterStore,
         random: SplitMix64) {
        self.direction = direction
        self.destination = destination
        self.board = board
        self.counters = counters
        self.random = random
    }

    /// Whether the source may be read now. Reading stops while the destination's outbound buffer
    /// is full or too much is queued, so a slow peer slows the sender down instead of growing
    /// memory. A cut direction keeps reading: a blackhole swallows everything.
    var canTakeMore: Bool {
        refreshFault()
        guard destinationOpen, !isCut else { return true }
        return destination.isWritable && queuedBytes < queueLimit
    }

    /// A chunk read from the source socket.
    func receive(_ chunk: ByteBuffer) {
        refreshFault()
        guard destinationOpen, !isCut else {
            severed = severed || destinationOpen
            counters.addDropped(chunk.readableBytes, direction)
            return
        }
        queue.append(PendingChunk(bytes: chunk, releaseAt: releaseTime(now: .now())))
        queuedBytes += chunk.readableBytes
        pump()
    }

    /// The source reached its end; the end is passed on once everything queued before it is out.
    func sourceEnded(_ end: StreamEnd) {
        guard !ended else { return }
        if pendingEnd != .fullClose {
            pendingEnd = end
        }
        pump()
    }

    /// The destination socket closed: nothing more can be delivered.
    func destinationClosed() {
        destinationOpen = false
        pump()
    }

    /// The destination's outbound buffer drained below its low-water mark (or filled up).
    func destinationWritabilityChanged() {
        source?.resumeReading()
    }

    /// Moves queued chunks out as far as the active fault allows, then decides what waits for.
    /// Called on every event that can change the answer: new data, timers, fault changes, closure.
    func pump() {
        wakeUp?.cancel()
        wakeUp = nil
        refreshFault()
        if !destinationOpen || isCut {
            // A cut loses in-flight data; it is not replayed after heal.
            severed = severed || (destinationOpen && queuedBytes > 0)
            counters.addDropped(queuedBytes, direction)
            queue.removeAll()
            queuedBytes = 0
        } else {
            drainQueue(now: .now())
        }
        // A cut holds back the end of the stream too, so a peer cannot learn of a closure across
        // a partition; it is delivered once the direction is healed.
        if queue.isEmpty, !isCut, let end = pendingEnd {
            finish(end)
        }
        source?.resumeReading()
    }

    private var isCut: Bool { severed || (fault?.blocks(direction) ?? false) }

    /// The delay path may buffer more than the plain path, but still not without bound; a paced
    /// direction keeps about a second of data queued, like a bottleneck router would.
    private var queueLimit: Int {
        if case .bandwidth(let bytesPerSecond) = fault {
            return min(256 * 1024, max(16 * 1024, bytesPerSecond))
        }
        return 256 * 1024
    }

    private func drainQueue(now: NIODeadline) {
        while let head = queue.first {
            if case .delay = fault, head.releaseAt > now {
                scheduleWakeUp(at: head.releaseAt)
                return
            }
            var length = head.bytes.readableBytes
            if var paced = bucket {
                let allowance = paced.available(at: now)
                guard allowance > 0 else {
                    bucket = paced
                    scheduleWakeUp(at: now + paced.timeUntilAvailable(length))
                    return
                }
                length = min(length, allowance)
                paced.consume(length)
                bucket = paced
            }
            let piece: ByteBuffer
            if length == head.bytes.readableBytes {
                piece = queue.removeFirst().bytes
            } else {
                piece = queue[queue.startIndex].bytes.readSlice(length: length)!
            }
            queuedBytes -= length
            counters.addForwarded(length, direction)
            destination.writeAndFlush(piece, promise: nil)
        }
    }

    private func releaseTime(now: NIODeadline) -> NIODeadline {
        guard case .delay(let milliseconds, let jitter) = fault else { return now }
        let wait = max(0, milliseconds + random.symmetricOffset(spread: jitter))
        let release = max(now + .milliseconds(Int64(wait)), lastRelease)
        lastRelease = release
        return release
    }

    /// Picks up a fault change made by `apply`/`heal`; pacing starts afresh with each new fault.
    private func refreshFault() {
        let entry = board.current
        guard entry.generation != seenGeneration else { return }
        seenGeneration = entry.generation
        fault = entry.fault
        if case .bandwidth(let bytesPerSecond) = entry.fault {
            bucket = TokenBucket(bytesPerSecond: bytesPerSecond, now: .now())
        } else {
            bucket = nil
        }
    }

    private func scheduleWakeUp(at deadline: NIODeadline) {
        wakeUp = destination.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            self?.pump()
        }
    }

    private func finish(_ end: StreamEnd) {
        ended = true
        pendingEnd = nil
        guard destinationOpen else { return }
        switch end {
        case .halfClose: destination.close(mode: .output, promise: nil)
        case .fullClose: destination.close(promise: nil)
        }
    }
}
