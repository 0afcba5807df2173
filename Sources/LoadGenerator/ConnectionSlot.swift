import NIOCore
import NIOPosix

/// One keep-alive connection of the run, re-opened whenever it is lost. It issues sequence numbers
/// `index, index + connections, index + 2 * connections, ...`, so the whole run needs no shared
/// counter. Confined to its event loop: every method runs there.
// @unchecked: every var (state, channel, handler, parser, pending, counters, tasks) is confined to `eventLoop`: after init, every method runs there.
final class ConnectionSlot: @unchecked Sendable {
    private enum State {
        case idle
        case connecting
        case connected
        case finished
    }

    let index: Int
    let eventLoop: EventLoop
    let done: EventLoopPromise<Void>
    private let run: RunContext
    private let worker: LoopWorker

    private var state = State.idle
    /// Bumped whenever a connection is dropped, so that late events of an old channel are ignored.
    private var generation = 0
    private var channel: Channel?
    /// The current channel's handler: requests are written through its context, straight to the socket.
    private var handler: SlotHandler?
    private var parser: ResponseParser
    private var pending: PendingRing
    /// Requests written since the last flush (their write time is set at the flush).
    private var unflushed = 0
    /// The server will close after the answer just read; nothing more is sent on this connection.
    private var closeAfterAnswers = false
    private var answeredOnConnection = 0
    private var nextRound = 0
    /// `maxRequests` reached: this slot has no more sequence numbers.
    private var exhausted = false
    /// The run's end (or a cancellation): send nothing more, wait for what is outstanding.
    private var stopping = false
    private var backoffNanos: Int64 = 0

    /// Pacing: when the next request is due, in nanoseconds since the run's start.
    private var nextDue: Double = 0
    private var reconnectTask: Scheduled<Void>?

    init(index: Int, eventLoop: EventLoop, run: RunContext, worker: LoopWorker) {
        self.index = index
        self.eventLoop = eventLoop
        self.run = run
        self.worker = worker
        self.done = eventLoop.makePromise()
        self.parser = ResponseParser(captureLimit: run.recordAccepted ? run.acceptedBodyLimit : 0,
                                     bodiless: run.encoder.isHead)
        self.pending = PendingRing(capacity: run.pipelineDepth)
        if let interval = run.pacingInterval {
            // Connections are staggered evenly over one interval.
            nextDue = interval * Double(index) / Double(run.connections)
        }
    }

    // MARK: Lifecycle

    /// Called by the worker, which also drives the run's end, the timeout checks and pacing ticks.
    func start() {
        eventLoop.assertInEventLoop()
        if let max = run.maxRequests, index >= max { exhausted = true }
        connect()
        checkFinished()
    }

    /// Sends nothing more; finishes once the outstanding requests are answered or failed.
    func stop() {
        eventLoop.assertInEventLoop()
        stopping = true
        checkFinished()
    }

    private var hasWork: Bool { !stopping && !exhausted }

    private func connect() {
        guard state == .idle, hasWork else { return }
        state = .connecting
        generation += 1
        let generation = self.generation
        parser.reset()
        closeAfterAnswers = false
        answeredOnConnection = 0
        ClientBootstrap(group: eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .connectTimeout(.nanoseconds(Int64(run.timeoutNanos)))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = SlotHandler(slot: self, generation: generation)
                    try channel.pipeline.syncOperations.addHandler(handler)
                    if generation == self.generation { self.handler = handler }
                }
            }
            .connect(to: run.address)
            .whenComplete { [self] result in
                connectCompleted(result, generation: generation)
            }
    }

    private func connectCompleted(_ result: Result<Channel, Error>, generation: Int) {
        guard generation == self.generation, state == .connecting else {
            if case .success(let stale) = result { stale.close(promise: nil) }
            return
        }
        switch result {
        case .success(let channel):
            guard handler != nil else {
                channel.close(promise: nil)
                state = .idle
                scheduleReconnect(afterNanos: nextBackoff())
                break
            }
            self.channel = channel
            state = .connected
            pump()
            flush()
        case .failure:
            worker.connectFailed()
            handler = nil
            state = .idle
            scheduleReconnect(afterNanos: nextBackoff())
        }
        checkFinished()
    }

    private func nextBackoff() -> Int64 {
        backoffNanos = backoffNanos == 0 ? 20_000_000 : min(backoffNanos * 2, 1_000_000_000)
        return backoffNanos
    }

    private func scheduleReconnect(afterNanos delay: Int64) {
        guard hasWork else { return }
        if delay <= 0 {
            connect()
            return
        }
        reconnectTask = eventLoop.scheduleTask(in: .nanoseconds(delay)) { [self] in
            reconnectTask = nil
            connect()
        }
    }

    /// Drops the current connection; everything outstanding on it counts as failed with `kind`.
    private func abandon(_ kind: LoadErrorKind) {
        if pending.count > 0 {
            worker.requestsFailed(pending.count, kind: kind)
            pending.removeAll()
        }
        unflushed = 0
        let productive = answeredOnConnection > 0
        dropChannel()
        // A connection that answered something is re-opened at once; one that did not (refused,
        // reset on accept) backs off so that a dead server does not make this spin.
        scheduleReconnect(afterNanos: productive ? 0 : nextBackoff())
    }

    private func dropChannel() {
        generation += 1
        channel?.close(promise: nil)
        channel = nil
        handler = nil
        if state != .finished { state = .idle }
    }

    private func checkFinished() {
        guard state != .finished, !hasWork, pending.isEmpty else { return }
        dropChannel()
        state = .finished
        reconnectTask?.cancel()
        reconnectTask = nil
        worker.slotFinished(at: monotonicNanos())
        done.succeed(())
    }

    // MARK: Sending

    /// Issues every request that may go now: up to the pipeline depth, and when paced, those due.
    private func pump() {
        guard state == .connected, !closeAfterAnswers, hasWork, pending.count < run.pipelineDepth else { return }
        let now = monotonicNanos()
        if now >= run.endNanos {
            stopping = true
            return
        }
        if let interval = run.pacingInterval {
            let elapsed = Double(now - run.startNanos)
            while nextDue <= elapsed && pending.count < run.pipelineDepth {
                guard issue(intendedAt: run.startNanos + UInt64(nextDue.rounded(.up))) else { return }
                nextDue += interval
            }
            // More due later: ask the worker's pacer for a tick (it batches the connections of
            // this loop, so a high rate does not cost one timer per request).
            if pending.count < run.pipelineDepth {
                worker.wake(atNanos: run.startNanos + UInt64(nextDue.rounded(.up)))
            }
        } else {
            while pending.count < run.pipelineDepth {
                guard issue() else { return }
            }
        }
    }

    /// `intendedAt`: when the pacing schedule wanted this request out (0 when unpaced).
    private func issue(intendedAt: UInt64 = 0) -> Bool {
        let sequence = index + nextRound * run.connections
        if let max = run.maxRequests, sequence >= max {
            exhausted = true
            return false
        }
        guard let handler else { return false }
        nextRound += 1
        let request = run.encoder.makeRequest(sequence: sequence, allocator: handler.allocator)
        pending.append(sequence, intendedAt: intendedAt)
        unflushed += 1
        worker.requestSent()
        handler.write(request)
        return true
    }

    private func flush() {
        guard unflushed > 0, let handler else { return }
        pending.stamp(last: unflushed, at: monotonicNanos())
        unflushed = 0
        handler.flush()
    }

    /// A pacing tick of the worker: sends what is due.
    func paceTick(now: UInt64) {
        guard state == .connected, run.pacingInterval != nil, hasWork else { return }
        let due = run.startNanos + UInt64(nextDue.rounded(.up))
        if due <= now {
            pump()
            flush()
            checkFinished()
        } else if pending.count < run.pipelineDepth {
            // The tick was for another connection; keep this one's own wake-up booked.
            worker.wake(atNanos: due)
        }
    }

    // MARK: Receiving

    fileprivate func channelRead(_ data: ByteBuffer, generation: Int) {
        guard generation == self.generation, state == .connected else { return }
        var buffer = data
        do {
            while let response = try parser.next(&buffer) {
                guard answer(response) else { return }
                // Nothing may follow an answer that ends the connection.
                if closeAfterAnswers { break }
            }
        } catch {
            abandon(.protocolError)
            checkFinished()
            return
        }
        afterAnswers()
    }

    /// Books one answer; false if it could not be matched to a request (the connection is dropped).
    private func answer(_ response: ParsedResponse) -> Bool {
        guard let request = pending.popFirst() else {
            abandon(.protocolError)
            checkFinished()
            return false
        }
        let now = monotonicNanos()
        answeredOnConnection += 1
        backoffNanos = 0
        worker.answered(sequence: request.sequence, response: response, sentAt: request.sentAt, intendedAt: request.intendedAt, now: now)
        if !response.keepAlive { closeAfterAnswers = true }
        return true
    }

    private func afterAnswers() {
        if closeAfterAnswers {
            // No more answers will come on this connection; whatever is still outstanding is lost.
            abandon(.connectionLost)
        } else {
            pump()
            flush()
        }
        checkFinished()
    }

    fileprivate func channelInactive(generation: Int) {
        guard generation == self.generation, state == .connected || state == .connecting else { return }
        if state == .connected, let last = parser.finish() {
            guard answer(last) else { return }
        }
        abandon(.connectionLost)
        checkFinished()
    }

    fileprivate func errorCaught(generation: Int) {
        guard generation == self.generation, state == .connected || state == .connecting else { return }
        abandon(.connectionLost)
        checkFinished()
    }

    /// Drops the connection if its oldest request has waited `requestTimeout`; called periodically.
    func checkTimeout(now: UInt64) {
        guard state == .connected, let oldest = pending.oldestSentAt, oldest > 0 else { return }
        if now &- oldest >= run.timeoutNanos {
            abandon(.timeout)
            checkFinished()
        }
    }
}

/// Forwards one channel's events to its slot, tagged with the connection's generation, and
/// writes the slot's requests (the only handler, so writes go straight to the socket).
final class SlotHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let slot: ConnectionSlot
    private let generation: Int
    private var context: ChannelHandlerContext?
    let allocator = ByteBufferAllocator()

    init(slot: ConnectionSlot, generation: Int) {
        self.slot = slot
        self.generation = generation
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func write(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        slot.channelRead(unwrapInboundIn(data), generation: generation)
    }

    func channelInactive(context: ChannelHandlerContext) {
        slot.channelInactive(generation: generation)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // The slot closes the channel (and ignores errors of channels it already dropped).
        slot.errorCaught(generation: generation)
    }
}
