import Foundation
import Testing
@testable import ChaosScenario
import WACore

/// Every step kind and field, with selectors written unquoted, quoted and in flow mappings.
let fullScenarioYAML = """
name: heartbeat-failover-killed-owner
description: Owner is SIGKILLed; a standby takes over after unhealthy_interval.
time_scale: 0.1
seed: 42
topology:
  db: postgres
  webapps: 2
  masters: 2
  coreapps: 3
  standby_coreapps: 1
settings:
  heartbeat_interval: 5
  unhealthy_interval: 30
  callback_persist: true
  webhooks: {url: "http://127.0.0.1:9999/hook"}
register: false
shards: 2
steps:
  - wait_healthy: {timeout: 60}
  - check_health: {golden: ha-registered.json}
  - kill: owner(shard: 0)
  - stop: wacore2
  - restart: "owner(shard: 1)"
  - start: wacore4
  - pause: {node: owner(shard:0), as: victim}
  - resume: $victim
  - partition: {from: primary_master, to: owner(shard: 0), direction: both}
  - partition: {from: waweb1, to: db, direction: one_way}
  - delay: {from: master1, to: wacore1, ms: 10000, jitter_ms: 500}
  - bandwidth: {from: waweb2, to: wacore1, bytes_per_second: 1000}
  - reset: {from: random(standby), to: gateway}
  - heal: {from: master1, to: wacore1}
  - heal: all
  - expect_failover: {shard: 0, bound: heartbeat}
  - expect_failover: {shard: 1, bound: db}
  - expect_failover: {bound: {min: 20, max: 45.5}}
  - expect_no_failover: {shard: 1, for: 45}
  - expect_primary_master: {changes: true, within: 30}
  - set_shards: 4
  - kill: any( owner( shard : 3 ) )
  - sleep: 5
  - run: "curl -fsS http://127.0.0.1:9090/v1/health"
  - check_health: {golden: mc-4-shards.json, within: 10}
  - wait_healthy:
  - kill: secondary_master
  - stop: coreapp
"""

@Test func fullFileRoundTripsIntoTheModel() throws {
    let scenario = try ScenarioLoader.parse(yaml: fullScenarioYAML, file: "chaos/full.yml")
    let link = { (from: NodeSelector, to: NodeSelector) in LinkSelector(from: from, to: to) }
    let expected = Scenario(
        name: "heartbeat-failover-killed-owner",
        description: "Owner is SIGKILLed; a standby takes over after unhealthy_interval.",
        timeScale: 0.1, seed: 42,
        topology: Topology(db: .pgsql, webapps: 2, masters: 2, coreapps: 3, standbyCoreapps: 1),
        settings: SettingsOverrides(heartbeatInterval: 5, unhealthyInterval: 30, passthrough: [
            "callback_persist": .bool(true),
            "webhooks": .object(["url": .string("http://127.0.0.1:9999/hook")]),
        ]),
        register: false, shards: 2,
        steps: [
            .waitHealthy(timeout: 60, line: 19),
            .checkHealth(golden: "ha-registered.json", within: nil, line: 20),
            .kill(NodeTarget(.owner(shard: 0)), line: 21),
            .stop(NodeTarget(.name("wacore2")), line: 22),
            .restart(NodeTarget(.owner(shard: 1)), line: 23),
            .start(NodeTarget(.name("wacore4")), line: 24),
            .pause(NodeTarget(.owner(shard: 0), label: "victim"), line: 25),
            .resume(NodeTarget(.label("victim")), line: 26),
            .partition(link(.primaryMaster, .owner(shard: 0)), direction: .both, line: 27),
            .partition(link(.name("waweb1"), .name("db")), direction: .oneWay, line: 28),
            .delay(link(.name("master1"), .name("wacore1")), ms: 10000, jitterMs: 500, line: 29),
            .bandwidth(link(.name("waweb2"), .name("wacore1")), bytesPerSecond: 1000, line: 30),
            .reset(link(.random(.standby), .name("gateway")), line: 31),
            .heal(.link(link(.name("master1"), .name("wacore1"))), line: 32),
            .heal(.all, line: 33),
            .expectFailover(shard: 0, bound: .heartbeat, line: 34),
            .expectFailover(shard: 1, bound: .db, line: 35),
            .expectFailover(shard: 0, bound: .range(min: 20, max: 45.5), line: 36),
            .expectNoFailover(shard: 1, duration: 45, sinceFault: false, line: 37),
            .expectPrimaryMaster(changes: true, within: 30, line: 38),
            .setShards(4, line: 39),
            .kill(NodeTarget(.random(.owner(shard: 3))), line: 40),
            .sleep(5, line: 41),
            .run(command: "curl -fsS http://127.0.0.1:9090/v1/health", line: 42),
            .checkHealth(golden: "mc-4-shards.json", within: 10, line: 43),
            .waitHealthy(timeout: 120, line: 44),
            .kill(NodeTarget(.secondaryMaster), line: 45),
            .stop(NodeTarget(.anyOfRole(.coreapp)), line: 46),
        ],
        file: "chaos/full.yml")
    // Step by step, so a failure points at the step that differs.
    #expect(scenario.steps.count == expected.steps.count)
    for (parsed, wanted) in zip(scenario.steps, expected.steps) {
        #expect(parsed == wanted)
    }
    var withoutSteps = scenario
    withoutSteps.steps = expected.steps
    #expect(withoutSteps == expected)
}

@Test func optionalFieldsTakeTheirDefaults() throws {
    let scenario = try ScenarioLoader.parse(yaml: """
        name: minimal
        topology: {masters: 1, coreapps: 1}
        steps:
          - sleep: 1
        """, file: "m.yml")
    #expect(scenario.description == "")
    #expect(scenario.timeScale == nil)
    #expect(scenario.seed == nil)
    #expect(scenario.topology == Topology(db: .sqlite, webapps: 1, masters: 1, coreapps: 1, standbyCoreapps: 0))
    #expect(scenario.settings.isEmpty)
    #expect(scenario.register)
    #expect(scenario.shards == 1)
    #expect(scenario.steps == [.sleep(1, line: 4)])
}

@Test func settingsBecomeThePatchBody() throws {
    let scenario = try ScenarioLoader.parse(yaml: fullScenarioYAML, file: "chaos/full.yml")
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    let json = String(decoding: try encoder.encode(scenario.settings.applicationSettings), as: UTF8.self)
    #expect(json == #"{"callback_persist":true,"heartbeat_interval":5,"unhealthy_interval":30,"#
        + #""webhooks":{"url":"http:\/\/127.0.0.1:9999\/hook"}}"#)
}

@Test func failoverBoundWindowsFollowTheSpec() {
    let settings = SettingsOverrides(heartbeatInterval: 5, unhealthyInterval: 30)
    #expect(FailoverBound.heartbeat.logicalWindow(settings: settings, promotionAllowance: 10) == 25...45)
    // The product's DB monitoring: heartbeat every 60 s, unhealthy after 120 s, checked every 5 s.
    #expect(FailoverBound.db.logicalWindow(settings: settings, promotionAllowance: 10) == 60...135)
    var slower = ClusterTimings.standard
    slower.dbHeartbeatPeriod = 30; slower.dbUnhealthyAfter = 90; slower.dbCheckPeriod = 10
    #expect(FailoverBound.db.logicalWindow(settings: settings, promotionAllowance: 10, timings: slower) == 60...110)
    #expect(FailoverBound.range(min: 1, max: 2).logicalWindow(settings: settings, promotionAllowance: 10) == 1...2)
    #expect(FailoverBound.heartbeat.logicalWindow(settings: SettingsOverrides(), promotionAllowance: 0) == 25...35)
}

@Test func stepsKnowTheirKindLineAndWhetherTheyAreFaults() throws {
    let scenario = try ScenarioLoader.parse(yaml: fullScenarioYAML, file: "chaos/full.yml")
    #expect(scenario.steps.map(\.line) == Array(19...46))
    #expect(scenario.steps.first?.kind == .waitHealthy)
    let faults = scenario.steps.filter(\.isFault).map(\.kind.rawValue)
    #expect(faults == ["kill", "stop", "restart", "pause", "partition", "partition", "delay", "bandwidth", "reset",
                       "kill", "kill", "stop"])
}

@Test func shardSelectorsNeedNoQuotesAndKeepYamlErrorLines() {
    // The respacing fallback must not move lines: a real syntax error later still reports its own line.
    let yaml = preamble + "  - kill: owner(shard: 0)\n  - partition: {from: waweb, to: owner(shard: 1)\n"
    #expect(errorLines(yaml) == [
        "chaos/t.yml:7: invalid YAML: did not find expected ',' or '}', column 1 (while parsing a flow mapping at line 6)",
    ])
}
