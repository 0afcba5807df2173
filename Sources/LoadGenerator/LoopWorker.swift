import NIOCore

/// Monotonic nanoseconds (CLOCK_MONOTONIC, as NIO's timers use).
@inline(__always)
func monotonicNanos() -> UInt64 {
    NIODeadline.now().uptimeNanoseconds
}

/// What the whole run shares; immutable.
struct RunContext: Sendable {
    let encoder: RequestEncoder
    let address: SocketAddress
    let connections: Int
    let pipelineDepth: Int
    let maxRequests: Int?
    let startNanos: UInt64
    let measureStartNanos: UInt64
    let endNanos: UInt64
    let timeoutNanos: UInt64
    /// Nanoseconds between two requests of one connection when paced.
    let pacingInterval: Double?
    let pacingGranularityNanos: UInt64
    let acceptedBodyLimit: Int
    let recordAccepted: Bool
}

/// Counters and samples of the connections on one event loop; touched only on that loop, so the
/// hot path takes no lock. Merged once at the end.
// @unchecked: every var (`totals`, `slots`, tasks, tick state) is confined to `eventLoop`; `add` runs before `start` is submitted there.
final class LoopWorker: @unchecked Sendable {
    let eventLoop: EventLoop
    private let run: RunContext

    private var totals = LoopTotals()

    /// The connections on this loop; emptied when all have finished (breaking the cycle).
    private var slots: [ConnectionSlot] = []
    private var unfinished = 0
    private var endTask: Scheduled<Void>?
    private var timeoutTask: RepeatedTask?
    /// Pacing ticks: one timer for all connections of the loop, at most one per `pacingGranularity`.
    private var tickTask: Scheduled<Void>?
    private var tickAt: UInt64 = .max
    private var lastTick: UInt64 = 0

    init(eventLoop: EventLoop, run: RunContext) {
        self.eventLoop = eventLoop
        self.run = run
    }

    /// Before `start`, from any thread.
    func add(_ slot: ConnectionSlot) {
        slots.append(slot)
    }

    func start() {
        eventLoop.assertInEventLoop()
        unfinished = slots.count
        guard unfinished > 0 else { return }
        endTask = eventLoop.scheduleTask(deadline: .uptimeNanoseconds(run.endNanos)) { [self] in
            endTask = nil
            for slot in slots { slot.stop() }
        }
        let checkEvery = TimeAmount.nanoseconds(Int64(min(max(run.timeoutNanos / 10, 10_000_000), 250_000_000)))
        timeoutTask = eventLoop.scheduleRepeatedTask(initialDelay: checkEvery, delay: checkEvery) { [self] _ in
            let now = monotonicNanos()
            for slot in slots { slot.checkTimeout(now: now) }
        }
        for slot in slots { slot.start() }
    }

    /// Stops every connection of this loop early (cancellation).
    func stop() {
        eventLoop.assertInEventLoop()
        for slot in slots { slot.stop() }
    }

    /// A paced connection has a request due at `nanos`: makes sure a tick comes then (or soon
    /// after, ticks being at least `pacingGranularity` apart).
    func wake(atNanos nanos: UInt64) {
        let at = max(nanos, lastTick &+ run.pacingGranularityNanos)
        guard at < tickAt else { return }
        tickTask?.cancel()
        tickAt = at
        tickTask = eventLoop.scheduleTask(deadline: .uptimeNanoseconds(at)) { [self] in
            tickTask = nil
            tickAt = .max
            let now = monotonicNanos()
            lastTick = now
            for slot in slots { slot.paceTick(now: now) }
        }
    }

    @inline(__always)
    func requestSent() {
        totals.sent &+= 1
    }

    func requestsFailed(_ count: Int, kind: LoadErrorKind) {
        totals.errors[kind.index] &+= count
    }

    func connectFailed() {
        totals.connectFailures &+= 1
    }

    func slotFinished(at nanos: UInt64) {
        totals.lastFinishNanos = max(totals.lastFinishNanos, nanos)
        unfinished -= 1
        guard unfinished == 0 else { return }
        endTask?.cancel()
        endTask = nil
        timeoutTask?.cancel()
        timeoutTask = nil
        tickTask?.cancel()
        tickTask = nil
        tickAt = .max
        // Deferred: a slot may be iterating `slots` (end task, tick) when the last one finishes.
        eventLoop.execute { [self] in slots = [] }
    }

    /// `intendedAt`: when a paced request was due (0 unpaced); latency counts from then.
    func answered(sequence: Int, response: ParsedResponse, sentAt: UInt64, intendedAt: UInt64, now: UInt64) {
        totals.completed &+= 1
        let status = response.status
        if status >= 0 && status < LoopTotals.statusSlots {
            totals.statusCounts[status] &+= 1
        } else {
            totals.otherStatuses[status, default: 0] += 1
        }
        if now >= run.measureStartNanos && now <= run.endNanos { totals.measuredAnswered &+= 1 }
        guard status >= 200 && status < 300 else { return }
        if run.recordAccepted {
            totals.accepted.append(AcceptedResponse(
                sequence: sequence, status: status, body: response.body, bodyLength: response.bodyLength))
        }
        if sentAt >= run.measureStartNanos && now >= sentAt {
            let from = intendedAt > 0 ? Swift.min(intendedAt, sentAt) : sentAt
            totals.latency.record(nanoseconds: Int64(now - from))
        }
        if now >= run.measureStartNanos && now <= run.endNanos {
            totals.measuredAccepted &+= 1
        }
    }

    /// A copy of the counters; call on `eventLoop`.
    func snapshot() -> LoopTotals {
        eventLoop.assertInEventLoop()
        return totals
    }
}

struct LoopTotals: Sendable {
    static let statusSlots = 600

    var sent = 0
    var completed = 0
    var statusCounts = [Int](repeating: 0, count: statusSlots)
    var otherStatuses: [Int: Int] = [:]
    var errors = [Int](repeating: 0, count: LoadErrorKind.allCases.count)
    var connectFailures = 0
    var measuredAccepted = 0
    var measuredAnswered = 0
    var latency = LatencyHistogram()
    var accepted: [AcceptedResponse] = []
    var lastFinishNanos: UInt64 = 0

    mutating func merge(_ other: LoopTotals) {
        sent += other.sent
        completed += other.completed
        for index in 0..<Self.statusSlots { statusCounts[index] += other.statusCounts[index] }
        otherStatuses.merge(other.otherStatuses, uniquingKeysWith: +)
        for index in errors.indices { errors[index] += other.errors[index] }
        connectFailures += other.connectFailures
        measuredAccepted += other.measuredAccepted
        measuredAnswered += other.measuredAnswered
        latency.merge(other.latency)
        accepted.append(contentsOf: other.accepted)
        lastFinishNanos = max(lastFinishNanos, other.lastFinishNanos)
    }

    var byStatus: [Int: Int] {
        var result = otherStatuses
        for (status, count) in statusCounts.enumerated() where count > 0 { result[status] = count }
        return result
    }

    var errorsByKind: [LoadErrorKind: Int] {
        var result: [LoadErrorKind: Int] = [:]
        for kind in LoadErrorKind.allCases where errors[kind.index] > 0 { result[kind] = errors[kind.index] }
        return result
    }
}

extension LoadErrorKind {
    var index: Int {
        switch self {
        case .timeout: 0
        case .connectionLost: 1
        case .protocolError: 2
        }
    }
}

/// The requests outstanding on one connection, oldest first; fixed capacity, no allocation.
struct PendingRing {
    private var sequences: [Int]
    private var sentAt: [UInt64]
    /// When a paced request was due (0 unpaced): its latency counts from then, so a stall that
    /// delays the requests behind it is not hidden (coordinated omission).
    private var intendedAt: [UInt64]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        sequences = [Int](repeating: 0, count: capacity)
        sentAt = [UInt64](repeating: 0, count: capacity)
        intendedAt = [UInt64](repeating: 0, count: capacity)
    }

    var isEmpty: Bool { count == 0 }

    /// Write time of the oldest outstanding request (0 if not flushed yet).
    var oldestSentAt: UInt64? { count == 0 ? nil : sentAt[head] }

    mutating func append(_ sequence: Int, intendedAt due: UInt64 = 0) {
        precondition(count < sequences.count, "more outstanding requests than the pipeline depth")
        let slot = (head + count) % sequences.count
        sequences[slot] = sequence
        sentAt[slot] = 0
        intendedAt[slot] = due
        count += 1
    }

    /// Stamps the newest `last` entries with the time they were flushed.
    mutating func stamp(last: Int, at nanos: UInt64) {
        for offset in (count - last)..<count {
            sentAt[(head + offset) % sequences.count] = nanos
        }
    }

    mutating func popFirst() -> (sequence: Int, sentAt: UInt64, intendedAt: UInt64)? {
        guard count > 0 else { return nil }
        let entry = (sequences[head], sentAt[head], intendedAt[head])
        head = (head + 1) % sequences.count
        count -= 1
        return entry
    }

    mutating func removeAll() {
        head = 0
        count = 0
    }
}
