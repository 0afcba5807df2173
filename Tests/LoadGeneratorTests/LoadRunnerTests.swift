import NIOCore
import NIOPosix
import Testing
@testable import LoadGenerator

/// End-to-end runs against the in-test server. Serialized: they share two cores and some check
/// timing.
@Suite(.serialized) struct LoadRunnerTests {
    private let group = MultiThreadedEventLoopGroup.singleton

    private let template = RequestTemplate(
        method: "POST", path: "/v1/messages",
        headers: [("Content-Type", "application/json"), ("Authorization", "Bearer token")],
        body: { TestHTTPServer.body(for: $0) })

    private func checkBalanced(_ result: LoadResult, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.sent == result.completed + result.errors, sourceLocation: sourceLocation)
        #expect(result.byStatus.values.reduce(0, +) == result.completed, sourceLocation: sourceLocation)
        #expect(result.errorsByKind.values.reduce(0, +) == result.errors, sourceLocation: sourceLocation)
        let twoxx = result.byStatus.filter { (200..<300).contains($0.key) }.values.reduce(0, +)
        #expect(result.accepted.count == twoxx, sourceLocation: sourceLocation)
        #expect(Set(result.accepted.map(\.sequence)).count == result.accepted.count, "sequences repeat",
                sourceLocation: sourceLocation)
    }

    @Test func countsAddUpAndBodiesMatchTheirRequests() async throws {
        let server = try await TestHTTPServer.start(group: group)
        defer { Task { await server.stop() } }
        let plan = LoadPlan(port: server.port, connections: 4, pipelineDepth: 1,
                            duration: .milliseconds(400), warmup: .milliseconds(100))
        let result = try await LoadRunner.run(plan, template, group: group)

        checkBalanced(result)
        #expect(result.errors == 0)
        #expect(result.connectFailures == 0)
        #expect(result.completed > 100)
        #expect(result.byStatus == [201: result.completed])
        #expect(server.requestsReceived == result.sent)
        #expect(server.connectionsAccepted == 4)
        for answer in result.accepted {
            #expect(answer.body == TestHTTPServer.body(for: answer.sequence))
            #expect(answer.bodyLength == answer.body.count)
        }
        // Warm-up answers count, but only the measured phase is timed.
        #expect(result.latency.count > 0 && result.latency.count < result.completed)
        #expect(result.measuredAccepted <= result.latency.count + 4)
        #expect(result.elapsed == .milliseconds(400))
        #expect(abs(result.throughput - Double(result.measuredAccepted) / 0.4) < 0.001)
        #expect(result.latency.percentile(50) > .zero && result.latency.percentile(50) < .milliseconds(100))
    }

    @Test func countsAnswersByStatus() async throws {
        let status: @Sendable (Int?) -> Int = { seq in
            guard let seq else { return 400 }
            return seq % 4 == 0 ? 500 : seq % 7 == 0 ? 429 : 201
        }
        let server = try await TestHTTPServer.start(.init(status: status), group: group)
        defer { Task { await server.stop() } }
        let plan = LoadPlan(port: server.port, connections: 3, pipelineDepth: 2,
                            duration: .seconds(10), maxRequests: 500)
        let result = try await LoadRunner.run(plan, template, group: group)

        checkBalanced(result)
        var expected: [Int: Int] = [:]
        for seq in 0..<500 { expected[status(seq), default: 0] += 1 }
        #expect(result.byStatus == expected)
        #expect(Set(result.accepted.map(\.sequence)) == Set((0..<500).filter { status($0) == 201 }))
        #expect(result.accepted.allSatisfy { $0.status == 201 })
        #expect(result.latency.count == expected[201])
    }

    @Test func stopsAfterMaxRequests() async throws {
        let server = try await TestHTTPServer.start(group: group)
        defer { Task { await server.stop() } }
        let plan = LoadPlan(port: server.port, connections: 5, pipelineDepth: 2,
                            duration: .seconds(10), maxRequests: 1003)
        let clock = ContinuousClock()
        let started = clock.now
        let result = try await LoadRunner.run(plan, template, group: group)

        #expect(clock.now - started < .seconds(5))
        checkBalanced(result)
        #expect(result.sent == 1003)
        #expect(result.completed == 1003)
        #expect(server.requestsReceived == 1003)
        #expect(Set(result.accepted.map(\.sequence)) == Set(0..<1003))
        #expect(result.elapsed < .seconds(5) && result.elapsed > .zero)
        #expect(result.throughput > 0)

        let none = try await LoadRunner.run(LoadPlan(port: server.port, connections: 2, maxRequests: 0), template, group: group)
        #expect(none.sent == 0 && none.completed == 0)
    }

    @Test func pipelinesRequestsOnEachConnection() async throws {
        // Each answer comes 3 ms after its request: only pipelining gets past 1 / 3 ms per connection.
        let server = try await TestHTTPServer.start(.init(answerDelay: .milliseconds(3)), group: group)
        defer { Task { await server.stop() } }
        let plan = LoadPlan(port: server.port, connections: 2, pipelineDepth: 8,
                            duration: .seconds(10), maxRequests: 800)
        let result = try await LoadRunner.run(plan, template, group: group)

        checkBalanced(result)
        #expect(result.completed == 800)
        #expect(result.errors == 0)
        #expect(server.maxInFlight >= 4)
        #expect(server.maxInFlight <= 8)
        #expect(result.accepted.allSatisfy { $0.body == TestHTTPServer.body(for: $0.sequence) })
        // 2 connections one at a time would need 400 × 3 ms = 1.2 s.
        #expect(result.elapsed < .milliseconds(900))
        #expect(result.latency.percentile(50) >= .milliseconds(3))
    }

    @Test func readsChunkedAnswers() async throws {
        let server = try await TestHTTPServer.start(.init(chunked: true), group: group)
        defer { Task { await server.stop() } }
        let plan = LoadPlan(port: server.port, connections: 2, pipelineDepth: 4,
                            duration: .seconds(10), maxRequests: 300)
        let result = try await LoadRunner.run(plan, template, group: group)

        checkBalanced(result)
        #expect(result.completed == 300)
        #expect(result.accepted.allSatisfy { $0.body == TestHTTPServer.body(for: $0.sequence) })
    }

    @Test func reconnectsWhenTheServerClosesEveryTenAnswers() async throws {
        let server = try await TestHTTPServer.start(.init(closeEvery: 10), group: group)
        defer { Task { await server.stop() } }
        let plan = LoadPlan(port: server.port, connections: 4, pipelineDepth: 1, duration: .milliseconds(500))
        let result = try await LoadRunner.run(plan, template, group: group)

        checkBalanced(result)
        #expect(result.completed > 100)
        // `Connection: close` is announced and requests go one at a time: nothing is lost.
        #expect(result.errors == 0)
        #expect(server.connectionsAccepted >= result.completed / 10)
    }

    @Test func survivesAbruptClosesWithPipelining() async throws {
        let server = try await TestHTTPServer.start(.init(closeEvery: 10, announceClose: false), group: group)
        defer { Task { await server.stop() } }
        let plan = LoadPlan(port: server.port, connections: 4, pipelineDepth: 4, duration: .milliseconds(500))
        let result = try await LoadRunner.run(plan, template, group: group)

        checkBalanced(result)
        #expect(result.completed > 100)
        #expect(result.errorsByKind.keys.allSatisfy { $0 == .connectionLost })
        #expect(server.connectionsAccepted >= result.completed / 10)
    }

    @Test func pacesToTheTargetRate() async throws {
        let server = try await TestHTTPServer.start(group: group)
        defer { Task { await server.stop() } }
        let plan = LoadPlan(port: server.port, connections: 4, pipelineDepth: 1,
                            duration: .seconds(1), targetRate: 200)
        let result = try await LoadRunner.run(plan, template, group: group)

        checkBalanced(result)
        #expect((150...250).contains(result.completed), "completed \(result.completed)")
        #expect((150...250).contains(Int(result.throughput)), "throughput \(result.throughput)")
    }

    @Test func timesOutSilentRequestsAndCarriesOn() async throws {
        let server = try await TestHTTPServer.start(.init(silent: { $0 == 5 || $0 == 6 }), group: group)
        defer { Task { await server.stop() } }
        let plan = LoadPlan(port: server.port, connections: 2, pipelineDepth: 1,
                            duration: .milliseconds(800), requestTimeout: .milliseconds(200))
        let result = try await LoadRunner.run(plan, template, group: group)

        checkBalanced(result)
        #expect(result.errorsByKind == [.timeout: 2])
        #expect(result.completed > 50)
        #expect(!result.accepted.contains { $0.sequence == 5 || $0.sequence == 6 })
        #expect(server.connectionsAccepted >= 4)
    }

    @Test func countsRefusedConnectionsWithoutSendingAnything() async throws {
        // A port that was just free: bind, note, close.
        let probe = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = probe.localAddress!.port!
        try await probe.close()

        let plan = LoadPlan(port: port, connections: 2, duration: .milliseconds(300))
        let result = try await LoadRunner.run(plan, template, group: group)
        #expect(result.sent == 0)
        #expect(result.errors == 0)
        #expect(result.connectFailures >= 2)
        #expect(result.throughput == 0)
        #expect(result.latency.count == 0)
    }

    @Test func cancellingEndsTheRunEarly() async throws {
        let server = try await TestHTTPServer.start(group: group)
        defer { Task { await server.stop() } }
        let plan = LoadPlan(port: server.port, connections: 2, duration: .seconds(30))
        let run = Task { try await LoadRunner.run(plan, template, group: group) }
        try await group.next().scheduleTask(in: .milliseconds(200)) {}.futureResult.get()
        run.cancel()
        let clock = ContinuousClock()
        let started = clock.now
        let result = try await run.value
        #expect(clock.now - started < .seconds(2))
        checkBalanced(result)
        #expect(result.completed > 0)
    }

    @Test func rejectsInvalidPlans() async {
        for plan in [
            LoadPlan(port: 80, connections: 0),
            LoadPlan(port: 80, pipelineDepth: 0),
            LoadPlan(port: 0),
            LoadPlan(port: 80, targetRate: 0),
            LoadPlan(port: 80, requestTimeout: .zero),
        ] {
            await #expect(throws: LoadGeneratorError.self) {
                try await LoadRunner.run(plan, template, group: group)
            }
        }
    }
}
