import ChaosScenario
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import WACore
@testable import WAChaos

/// The parts of `wachaos up` that need no cluster: the words of `wachaos fault`, the recording,
/// the live view, the merged logs, and the control API's routes over a fake session.
@Suite struct SessionWordsTests {
    @Test func faultWordsBecomeScenarioSteps() throws {
        #expect(try SessionWords.step(["kill", "wacore1"]) == #"kill: "wacore1""#)
        #expect(try SessionWords.step(["partition", "master1", "owner:0", "--one-way"]) == #"partition: {from: "master1", to: "owner(shard: 0)", direction: one_way}"#)
        #expect(try SessionWords.step(["delay", "wacore1", "db", "200", "20"]) == #"delay: {from: "wacore1", to: "db", ms: 200, jitter_ms: 20}"#)
        #expect(try SessionWords.step(["heal", "all"]) == "heal: all")
        #expect(try SessionWords.step(["pause", "primary"]) == #"pause: "primary_master""#)
        #expect(try SessionWords.step(["gateway", "drop_acks", "1"]) == "gateway: {fault: drop_acks, shard: 1}")
        #expect(try SessionWords.step(["workload", "20", "4"]) == "workload: {messages_per_second: 20, senders: 4}")
        #expect(try SessionWords.step(["workload", "stop"]) == "workload: stop")
        #expect(try SessionWords.step(["shards", "4"]) == "set_shards: 4")
        // Every translation is a step the scenario format reads.
        let topology = Topology(masters: 2, coreapps: 3)
        for words in [["kill", "wacore1"], ["partition", "master1", "owner:0", "--one-way"], ["delay", "wacore1", "db", "200", "20"],
                      ["bandwidth", "all", "db", "1000"], ["reset", "wacore1", "master1"], ["heal", "wacore1", "master1"],
                      ["skew", "wacore2", "300", "50"], ["gateway", "ban", "10"], ["handover", "0", "wacore3"], ["db-lock", "5"],
                      ["workload", "20"], ["settings", #"{"heartbeat_interval": 4}"#], ["step", "expect_failover: {shard: 0, bound: heartbeat}"]] {
            let text = try SessionWords.step(words)
            guard case .success = ScenarioLoader.step(text, topology: topology, shards: 2) else {
                Issue.record("\(words) gave \(text), which does not read as a step"); continue
            }
        }
    }

    @Test func badWordsSayWhatIsWrong() {
        func message(_ words: [String]) -> String {
            do { _ = try SessionWords.step(words); return "accepted" } catch { return "\(error)" }
        }
        #expect(message([]).contains("no fault given"))
        #expect(message(["explode", "wacore1"]).contains("unknown fault \"explode\""))
        #expect(message(["kill"]).contains("kill expects one NODE, got nothing"))
        #expect(message(["delay", "a", "b", "fast"]).contains("MS must be a whole number, got fast"))
        #expect(message(["kill", "wacore1", "--one-way"]).contains("--one-way is for partition only"))
        #expect(message(["partition", "a", "b", "--both"]).contains("unknown flag --both"))
        #expect(message(["gateway", "melt"]).contains("unknown fault melt"))
    }
}

@Suite struct SessionRecordingTests {
    func header() throws -> Scenario {
        try ScenarioLoader.parse(yaml: "name: demo\ntopology: {masters: 2, coreapps: 3}\nshards: 2\nworkload: {messages_per_second: 20}\nsteps:\n  - sleep: 1\n", file: "demo.yml")
    }

    @Test func gapsBetweenStepsBecomeLogicalSleeps() throws {
        var r = SessionRecording(header: try header(), scale: 0.1)
        r.append(.waitHealthy(timeout: 120, line: 1), started: 0.0, ended: 0.5)
        r.append(.kill(NodeTarget(.name("wacore1")), line: 1), started: 3.5, ended: 3.5)
        // A replayed sleep is time between steps, not a step of its own.
        r.append(.sleep(20, line: 3), started: 3.5, ended: 5.5)
        r.append(.heal(.all, line: 1), started: 5.5, ended: 5.6)
        let s = r.scenario(endedAt: 7.6)
        #expect(s.name == "demo-session")
        #expect(s.timeScale == 0.1)
        #expect(s.shards == 2 && s.workload?.messagesPerSecond == 20)
        #expect(s.steps.map(ScenarioWriter.step) == ["wait_healthy: {timeout: 120}", "sleep: 30", #"kill: "wacore1""#, "sleep: 20", "heal: all", "sleep: 20"])
        // And the file reads back to the same steps.
        let again = try ScenarioLoader.parse(yaml: ScenarioWriter.yaml(s), file: "session.yml")
        #expect(again.steps.map(ScenarioWriter.step) == s.steps.map(ScenarioWriter.step))
        #expect(SessionRecording.name(for: "demo-session") == "demo-session")
    }

    @Test func theRecordingSaysWhichSeedAndEngineRan() throws {
        var r = SessionRecording(header: try header(), scale: 1)
        r.ran(seed: 42, engine: .pgsql)
        let yaml = ScenarioWriter.yaml(r.scenario())
        #expect(yaml.contains("seed: 42") && yaml.contains("db: postgres"), "\(yaml)")
    }

    @Test func aSessionKeepsItsCallbacksOnThisMachine() throws {
        func settings(_ url: String) throws -> SettingsOverrides {
            guard case .settings(let s, _) = try ScenarioLoader.step("settings: {webhooks: {url: \"\(url)\"}}", topology: Topology(masters: 1, coreapps: 1), shards: 1).get() else {
                throw ControlError(.badStep, "not a settings step")
            }
            return s
        }
        #expect(UpSession.offLoopbackWebhook(try settings("https://customer.example/hook"))?.contains("not on this machine") == true)
        #expect(UpSession.offLoopbackWebhook(try settings("http://127.0.0.1:9000/hook")) == nil)
        #expect(UpSession.offLoopbackWebhook(SettingsOverrides(heartbeatInterval: 4)) == nil)
    }

    @Test func anEmptySessionStillReplays() throws {
        let s = SessionRecording(header: try header(), scale: 1).scenario()
        #expect(!s.steps.isEmpty)
        _ = try ScenarioLoader.parse(yaml: ScenarioWriter.yaml(s), file: "session.yml")
    }
}

@Suite struct LiveViewTests {
    let status = SessionStatus(
        scenario: "demo", uptime: 75, scale: 1, seed: 7, engine: "sqlite", shards: 2, interactive: true,
        nodes: [.init(name: "waweb", role: "webapp", process: "running", version: "2.55.0-replica"),
                .init(name: "master1", role: "primary_master", process: "running", gateway: "connected"),
                .init(name: "wacore1", role: "coreapp", process: "down", error: "unreachable"),
                .init(name: "wacore2", role: "coreapp", process: "running", gateway: "connected", shard: 0)],
        faults: [.init(id: 1, kind: "kill", detail: "SIGKILL wacore1 (wacore1)", since: 70)],
        workload: "20 messages/s from 2 senders", window: 10,
        sends: [.init(shard: 0, owner: "wacore2", accepted: 30, refused: 10), .init(shard: 1, owner: nil, accepted: 0, refused: 0)],
        events: [.init(at: 70, kind: "fault", detail: "SIGKILL wacore1 (wacore1)")])

    @Test func theScreenShowsNodesFaultsSendsAndEvents() {
        let screen = LiveView.screen(status).joined(separator: "\n")
        #expect(screen.contains("up 00:01:15"))
        #expect(screen.contains("wacore1  coreapp         down"))
        #expect(screen.contains("#1 kill: SIGKILL wacore1 (wacore1) (at 00:01:10)"))
        #expect(screen.contains("shard 0 (wacore2):  75% accepted (30 of 40)"))
        #expect(screen.contains("shard 1 (no owner): no sends"))
        #expect(screen.contains("00:01:10 fault: SIGKILL wacore1"))
        #expect(LiveView.screen(status, width: 30).allSatisfy { $0.count <= 30 })
        #expect(LiveView.redraw(["a"]).hasPrefix("\u{1B}[H"))
    }

    @Test func theLineChangesOnlyWhenTheClusterDoes() {
        var later = status
        later.uptime = 80
        #expect(LiveView.line(status) == LiveView.line(later))
        later.nodes[2].process = "running"
        #expect(LiveView.line(status) != LiveView.line(later))
        #expect(LiveView.line(status).contains("wacore1=down") && LiveView.line(status).contains("faults: #1 kill") && LiveView.line(status).contains("0:75%"))
    }
}

@Suite struct NodeLogsTests {
    @Test func linesMergeInTimeOrderAndUntimedLinesKeepTheirPlace() {
        let a = #"{"ts":10.5,"msg":"a1"}"# + "\n" + "fatal: crashed\n" + #"{"ts":12,"msg":"a2"}"#
        let b = #"{"msg":"b1","ts":11}"# + "\n" + #"{"ts":10.5,"msg":"b0"}"#
        let merged = NodeLogs.merge([(node: "wacore1", text: a), (node: "master1", text: b)])
        #expect(merged.map(\.text) == [#"{"ts":10.5,"msg":"a1"}"#, "fatal: crashed", #"{"ts":10.5,"msg":"b0"}"#, #"{"msg":"b1","ts":11}"#, #"{"ts":12,"msg":"a2"}"#])
        let text = NodeLogs.render(merged)
        #expect(text.hasPrefix("wacore1 | 1970-01-01T00:00:10.500Z | "))
        #expect(text.contains("master1 | 1970-01-01T00:00:11.000Z | "))
    }
}

/// A session that answers from fixed values and remembers the steps it was asked to run.
final class FakeSession: SessionControl {
    let asked = Locked<[String]>([])
    let stopped = Locked(false)
    func status() async -> SessionStatus {
        SessionStatus(scenario: "fake", uptime: 1, scale: 1, seed: 1, engine: "sqlite", shards: 1, interactive: true, nodes: [],
                      faults: [], workload: nil, window: 10, sends: [], events: [])
    }
    func links() -> [LinkStatus] { [LinkStatus(from: "wacore1", to: "db", port: 4000, fault: nil)] }
    func health() async throws -> JSONValue { .object(["health": .object([:])]) }
    func step(_ text: String) async throws -> StepAnswer {
        asked.withLock { $0.append(text) }
        guard case .success = ScenarioLoader.step(text, topology: Topology(masters: 1, coreapps: 2), shards: 1) else {
            throw ControlError(.badStep, "control request:1: not a step: \(text)")
        }
        if text.hasPrefix("restart") { throw ControlError(.stepFailed, "wacore1 did not come back") }
        return StepAnswer(step: text, notes: ["did \(text)"], checks: [])
    }
    func recording() -> String { "name: fake-session\n" }
    func supportBundle() async throws -> String { "/tmp/bundle.tar.gz" }
    func stop() { stopped.withLock { $0 = true } }
}

@Suite struct ControlRoutesTests {
    let token = "t0ken"
    var auth: HTTPFields { [.authorization: "Bearer \(token)"] }

    func app(_ fake: FakeSession) -> some ApplicationProtocol { Application(router: ControlRoutes.router(fake, token: token)) }

    @Test func everyCallNeedsTheToken() async throws {
        try await app(FakeSession()).test(.router) { client in
            for (uri, method) in [("/v1/status", HTTPRequest.Method.get), ("/v1/steps", .post), ("/v1/stop", .post)] {
                let none = try await client.execute(uri: uri, method: method)
                #expect(none.status == .unauthorized)
                #expect(String(buffer: none.body).contains("UNAUTHORIZED") && String(buffer: none.body).contains("no Authorization header"))
                let wrong = try await client.execute(uri: uri, method: method, headers: [.authorization: "Bearer nope"])
                #expect(wrong.status == .unauthorized && String(buffer: wrong.body).contains("wrong token"))
            }
        }
    }

    @Test func stepsRunAndBadOnesAreRefusedWithTheirReason() async throws {
        let fake = FakeSession()
        try await app(fake).test(.router) { client in
            let ok = try await client.execute(uri: "/v1/steps", method: .post, headers: auth, body: ByteBuffer(string: "kill: wacore1"))
            #expect(ok.status == .ok)
            let answer = try JSONCodec.decode(StepAnswer.self, from: Data(buffer: ok.body))
            #expect(answer == StepAnswer(step: "kill: wacore1", notes: ["did kill: wacore1"], checks: []))
            let bad = try await client.execute(uri: "/v1/steps", method: .post, headers: auth, body: ByteBuffer(string: "kill: wacore7"))
            #expect(bad.status == .badRequest && String(buffer: bad.body).contains("BAD_STEP"))
            let failed = try await client.execute(uri: "/v1/steps", method: .post, headers: auth, body: ByteBuffer(string: "restart: wacore1"))
            #expect(failed.status.code == 422 && String(buffer: failed.body).contains("did not come back"))
            let empty = try await client.execute(uri: "/v1/steps", method: .post, headers: auth, body: ByteBuffer(string: "  "))
            #expect(empty.status == .badRequest && String(buffer: empty.body).contains("the body is empty"))
            let huge = try await client.execute(uri: "/v1/steps", method: .post, headers: auth, body: ByteBuffer(string: String(repeating: "x", count: ControlRoutes.bodyLimit + 1)))
            #expect(huge.status == .badRequest && String(buffer: huge.body).contains("larger than"))
            let heal = try await client.execute(uri: "/v1/heal", method: .post, headers: auth)
            #expect(heal.status == .ok)
            let stop = try await client.execute(uri: "/v1/workload", method: .delete, headers: auth)
            #expect(stop.status == .ok)
            let unknown = try await client.execute(uri: "/v1/explode", method: .post, headers: auth)
            #expect(unknown.status == .notFound && String(buffer: unknown.body).contains("no such control call"))
        }
        #expect(fake.asked.value == ["kill: wacore1", "kill: wacore7", "restart: wacore1", "heal: all", "workload: stop"])
    }

    @Test func statusLinksRecordingAndStopAnswer() async throws {
        let fake = FakeSession()
        try await app(fake).test(.router) { client in
            let status = try await client.execute(uri: "/v1/status", method: .get, headers: auth)
            #expect(try JSONCodec.decode(SessionStatus.self, from: Data(buffer: status.body)).scenario == "fake")
            let links = try await client.execute(uri: "/v1/links", method: .get, headers: auth)
            #expect(try JSONCodec.decode([LinkStatus].self, from: Data(buffer: links.body)) == fake.links())
            let recording = try await client.execute(uri: "/v1/recording", method: .get, headers: auth)
            #expect(String(buffer: recording.body) == "name: fake-session\n")
            let stop = try await client.execute(uri: "/v1/stop", method: .post, headers: auth)
            #expect(stop.status == .ok)
        }
        #expect(fake.stopped.value)
    }
}

@Suite struct LiveViewFitTests {
    @Test func aShortTerminalLosesOldEventsNotTheNodes() {
        var s = LiveViewTests().status
        s.events = (0..<20).map { .init(at: Double($0), kind: "step", detail: "event \($0)") }
        let screen = LiveView.screen(s, width: 80, height: 24, header: ["REST API http://127.0.0.1:1"])
        #expect(screen.count <= 23)
        #expect(screen.first == "REST API http://127.0.0.1:1")
        #expect(screen.contains { $0.hasPrefix("wacore2") })
        #expect(screen.last?.contains("event 19") == true, "the newest event stays: \(screen)")
    }
}
