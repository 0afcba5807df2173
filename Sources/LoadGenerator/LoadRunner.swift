import NIOCore
import NIOPosix

public enum LoadRunner {
    /// Runs `plan` against `host:port`: opens `plan.connections` keep-alive connections over the
    /// event loops of `group`, sends `template` requests for `warmup + duration` (or until
    /// `maxRequests`), waits for the answers still outstanding (at most `requestTimeout`), closes
    /// the connections and returns the counts. Cancelling the task ends the run early, the same way.
    ///
    /// Throws only for an invalid plan or an unresolvable host; failures of connections and
    /// requests are counted in the result.
    public static func run(_ plan: LoadPlan, _ template: RequestTemplate, group: EventLoopGroup) async throws -> LoadResult {
        try validate(plan)
        let address = try SocketAddress.makeAddressResolvingHost(plan.host, port: plan.port)
        let loops = Array(group.makeIterator())
        guard !loops.isEmpty else { throw LoadGeneratorError.invalidPlan("the event loop group has no loops") }

        let start = monotonicNanos()
        let measureStart = start + UInt64(plan.warmup.nanosecondsClamped)
        let end = measureStart + UInt64(plan.duration.nanosecondsClamped)
        let run = RunContext(
            encoder: RequestEncoder(template: template, host: plan.host, port: plan.port),
            address: address,
            connections: plan.connections,
            pipelineDepth: plan.pipelineDepth,
            maxRequests: plan.maxRequests,
            startNanos: start,
            measureStartNanos: measureStart,
            endNanos: end,
            timeoutNanos: UInt64(plan.requestTimeout.nanosecondsClamped),
            pacingInterval: plan.targetRate.map { Double(plan.connections) * 1e9 / $0 },
            pacingGranularityNanos: UInt64(max(plan.pacingGranularity.nanosecondsClamped, 0)),
            acceptedBodyLimit: plan.acceptedBodyLimit,
            recordAccepted: plan.recordAccepted
        )

        let workers = loops.map { LoopWorker(eventLoop: $0, run: run) }
        let slots = (0..<plan.connections).map { index in
            let worker = workers[index % loops.count]
            let slot = ConnectionSlot(index: index, eventLoop: worker.eventLoop, run: run, worker: worker)
            worker.add(slot)
            return slot
        }
        for worker in workers {
            worker.eventLoop.execute { worker.start() }
        }

        let allDone = EventLoopFuture.andAllComplete(slots.map { $0.done.futureResult }, on: loops[0])
        try await withTaskCancellationHandler {
            try await allDone.get()
        } onCancel: {
            for worker in workers {
                worker.eventLoop.execute { worker.stop() }
            }
        }

        var totals = LoopTotals()
        for worker in workers {
            totals.merge(try await worker.eventLoop.submit { worker.snapshot() }.get())
        }

        // The measured phase ends at its planned end, or earlier when every connection ran out
        // of requests (maxRequests) before it.
        let measuredEnd = min(end, max(totals.lastFinishNanos, measureStart))
        let elapsedNanos = measuredEnd - measureStart
        let elapsed = Duration.nanoseconds(Int64(elapsedNanos))
        let throughput = elapsedNanos > 0 ? Double(totals.measuredAccepted) / (Double(elapsedNanos) / 1e9) : 0
        let answerRate = elapsedNanos > 0 ? Double(totals.measuredAnswered) / (Double(elapsedNanos) / 1e9) : 0

        return LoadResult(
            sent: totals.sent,
            completed: totals.completed,
            byStatus: totals.byStatus,
            errors: totals.errors.reduce(0, +),
            errorsByKind: totals.errorsByKind,
            connectFailures: totals.connectFailures,
            elapsed: elapsed,
            throughput: throughput,
            measuredAccepted: totals.measuredAccepted,
            answerRate: answerRate,
            latency: totals.latency,
            accepted: totals.accepted
        )
    }

    static func validate(_ plan: LoadPlan) throws {
        func fail(_ reason: String) throws -> Never { throw LoadGeneratorError.invalidPlan(reason) }
        if plan.connections < 1 { try fail("connections must be at least 1") }
        if plan.pipelineDepth < 1 { try fail("pipelineDepth must be at least 1") }
        if !(1...65535).contains(plan.port) { try fail("port \(plan.port) is out of range") }
        if plan.duration < .zero { try fail("duration must not be negative") }
        if plan.warmup < .zero { try fail("warmup must not be negative") }
        if plan.requestTimeout <= .zero { try fail("requestTimeout must be positive") }
        if let max = plan.maxRequests, max < 0 { try fail("maxRequests must not be negative") }
        if let rate = plan.targetRate, !(rate > 0 && rate.isFinite) { try fail("targetRate must be positive") }
        if plan.acceptedBodyLimit < 0 { try fail("acceptedBodyLimit must not be negative") }
        if plan.pacingGranularity < .zero { try fail("pacingGranularity must not be negative") }
    }
}
