import Testing
@testable import ChaosScenario

/// One bad file and the exact errors it must produce.
struct BadFile: Sendable, CustomTestStringConvertible {
    let name: String
    let yaml: String
    let errors: [String]
    var testDescription: String { name }
}

let badFiles: [BadFile] = [
    BadFile(name: "YAML syntax error keeps Yams' line", yaml: """
        name: t
        topology: {masters: 2, coreapps: 3
        steps:
          - sleep: 1
        """, errors: [
        "chaos/t.yml:3: invalid YAML: did not find expected ',' or '}', column 6 (while parsing a flow mapping at line 2)",
    ]),
    BadFile(name: "unquoted value with a colon gets a hint", yaml: preamble + """
          - run: echo a: b
        """, errors: [
        "chaos/t.yml:5: invalid YAML: mapping values are not allowed in this context, column 16; quote a value that contains \": \"",
    ]),
    BadFile(name: "duplicate key", yaml: "name: t\nname: u\n", errors: [
        "chaos/t.yml:1: invalid YAML: duplicate key \"name\" in one mapping",
    ]),
    BadFile(name: "empty file", yaml: "", errors: ["chaos/t.yml: the file is empty"]),
    BadFile(name: "not a mapping", yaml: "- sleep: 1\n", errors: [
        "chaos/t.yml:1: expected a mapping with name, topology and steps, got a list",
    ]),
    BadFile(name: "missing required fields", yaml: "description: nothing else\n", errors: [
        "chaos/t.yml:1: name: missing required field",
        "chaos/t.yml:1: topology: missing required field",
        "chaos/t.yml:1: steps: missing required field",
    ]),
    BadFile(name: "missing field inside a mapping is reported on its key's line", yaml: """
        name: t
        topology:
          db: sqlite
          masters: 2
        steps:
          - sleep: 1
        """, errors: ["chaos/t.yml:2: topology.coreapps: missing required field"]),
    BadFile(name: "unknown keys, with and without a suggestion", yaml: preamble + """
          - sleep: 1
        stesp: []
        colour: blue
        """, errors: [
        "chaos/t.yml:6: stesp: unknown key; did you mean \"steps\"?",
        "chaos/t.yml:7: colour: unknown key; expected one of name, description, time_scale, seed, topology, "
            + "settings, register, shards, workload, steps",
    ]),
    BadFile(name: "wrong types", yaml: """
        name: t
        description: {text: hi}
        register: maybe
        topology: {masters: two, coreapps: 2.5}
        steps: {sleep: 1}
        """, errors: [
        "chaos/t.yml:2: description: expected a string, got a mapping",
        "chaos/t.yml:3: register: expected true or false, got \"maybe\"",
        "chaos/t.yml:4: topology.masters: expected an integer, got \"two\"",
        "chaos/t.yml:4: topology.coreapps: expected an integer, got 2.5",
        "chaos/t.yml:5: steps: expected a list of steps, got a mapping",
    ]),
    BadFile(name: "out-of-range scalars", yaml: """
        name: Heartbeat Failover
        time_scale: 0
        seed: -1
        shards: 3
        topology: {db: mysql, masters: 0, coreapps: 3, standby_coreapps: -1}
        steps: []
        """, errors: [
        "chaos/t.yml:1: name: expected lowercase letters, digits and \"-\" ([a-z0-9-]+), got \"Heartbeat Failover\"",
        "chaos/t.yml:2: time_scale: expected a number above 0 and at most 10, got 0",
        "chaos/t.yml:3: seed: expected an integer of at least 0, got -1",
        "chaos/t.yml:4: shards: expected 1, 2, 4, 8, 16 or 32, got 3",
        "chaos/t.yml:5: topology.db: expected \"sqlite\" or \"postgres\", got \"mysql\"",
        "chaos/t.yml:5: topology.masters: expected an integer from 1 to 16, got 0",
        "chaos/t.yml:5: topology.standby_coreapps: expected an integer from 0 to 64, got -1",
        "chaos/t.yml:6: steps: expected a list of steps, got an empty list",
    ]),
    BadFile(name: "time_scale above 10", yaml: "time_scale: 11\n" + preamble + "  - sleep: 1\n", errors: [
        "chaos/t.yml:1: time_scale: expected a number above 0 and at most 10, got 11",
    ]),
    BadFile(name: "negative and zero durations", yaml: preamble + """
          - sleep: -5
          - wait_healthy: {timeout: 0}
          - expect_no_failover: {for: -1}
        """, errors: [
        "chaos/t.yml:5: steps[0].sleep: expected a duration in logical seconds (more than 0), got -5",
        "chaos/t.yml:6: steps[1].wait_healthy.timeout: expected a duration in logical seconds (more than 0), got 0",
        "chaos/t.yml:7: steps[2].expect_no_failover.for: expected a duration in logical seconds (more than 0), got -1",
    ]),
    BadFile(name: "unhealthy_interval must exceed heartbeat_interval", yaml: """
        settings:
          heartbeat_interval: 10
          unhealthy_interval: 10
        """ + "\n" + preamble + "  - sleep: 1\n", errors: [
        "chaos/t.yml:3: settings.unhealthy_interval: must exceed heartbeat_interval (10), got 10",
    ]),
    BadFile(name: "interval order uses product defaults for the side not set", yaml: """
        settings: {unhealthy_interval: 4}
        """ + "\n" + preamble + "  - sleep: 1\n", errors: [
        "chaos/t.yml:1: settings.unhealthy_interval: must exceed heartbeat_interval (5, the product default), got 4",
    ]),
    BadFile(name: "settings typo close to a documented key", yaml: """
        settings: {hearbeat_interval: 3, some_future_setting: 1}
        """ + "\n" + preamble + "  - sleep: 1\n", errors: [
        "chaos/t.yml:1: settings.hearbeat_interval: unknown setting; did you mean \"heartbeat_interval\"?",
    ]),
    BadFile(name: "selector naming a node the topology does not define", yaml: preamble + """
          - kill: wacore5
          - stop: waweb2
          - pause: Wacore1
          - resume: primarymaster
          - restart: nginx
        """, errors: [
        "chaos/t.yml:5: steps[0].kill: unknown node \"wacore5\": the topology defines wacore1..wacore3",
        "chaos/t.yml:6: steps[1].stop: unknown node \"waweb2\": the topology defines waweb",
        "chaos/t.yml:7: steps[2].pause: unknown node \"Wacore1\"; did you mean \"wacore1\"?",
        "chaos/t.yml:8: steps[3].resume: unknown node \"primarymaster\"; did you mean \"primary_master\"?",
        "chaos/t.yml:9: steps[4].restart: unknown node \"nginx\" (the topology defines waweb, master1, master2, "
            + "wacore1, wacore2, wacore3, db, gateway)",
    ]),
    BadFile(name: "shard numbers follow set_shards through the timeline", yaml: """
        name: t
        topology: {masters: 2, coreapps: 4}
        steps:
          - kill: owner(shard: 1)
          - set_shards: 2
          - kill: owner(shard: 1)
          - partition: {from: waweb, to: owner(shard: 3)}
          - expect_failover: {shard: 2, bound: heartbeat}
          - set_shards: 1
          - expect_no_failover: {shard: 1, for: 10}
        """, errors: [
        "chaos/t.yml:4: steps[0].kill: shard 1 does not exist at this step: the cluster has 1 shard (only shard 0)",
        "chaos/t.yml:7: steps[3].partition.to: shard 3 does not exist at this step: the cluster has 2 shards (shards 0..1)",
        "chaos/t.yml:8: steps[4].expect_failover.shard: shard 2 does not exist at this step: the cluster has 2 shards "
            + "(shards 0..1)",
        "chaos/t.yml:10: steps[6].expect_no_failover.shard: shard 1 does not exist at this step: the cluster has 1 shard "
            + "(only shard 0)",
    ]),
    BadFile(name: "golden file names cannot leave fixtures/health", yaml: preamble + """
          - check_health: {golden: ../../etc/passwd}
          - check_health: {golden: health/ha.json}
          - check_health: {golden: .hidden.json}
          - check_health: {golden: ha.yml}
        """, errors: [
        "chaos/t.yml:5: steps[0].check_health.golden: expected a file name under fixtures/health/ (letters, digits, "
            + "\".\", \"_\", \"-\"; no \"/\" or \"..\"), got \"../../etc/passwd\"",
        "chaos/t.yml:6: steps[1].check_health.golden: expected a file name under fixtures/health/ (letters, digits, "
            + "\".\", \"_\", \"-\"; no \"/\" or \"..\"), got \"health/ha.json\"",
        "chaos/t.yml:7: steps[2].check_health.golden: expected a file name under fixtures/health/ (letters, digits, "
            + "\".\", \"_\", \"-\"; no \"/\" or \"..\"), got \".hidden.json\"",
        "chaos/t.yml:8: steps[3].check_health.golden: expected a .json file name, got \"ha.yml\"",
    ]),
    BadFile(name: "unknown step kind and misshapen steps", yaml: preamble + """
          - kil: wacore1
          - explode: wacore1
          - partition:
            from: master1
            to: wacore1
          - sleep: 1
            stop: wacore1
          - 5
        """, errors: [
        "chaos/t.yml:5: steps[0]: unknown step kind \"kil\"; did you mean \"kill\"?",
        "chaos/t.yml:6: steps[1]: unknown step kind \"explode\"; expected one of wait_healthy, check_health, kill, "
            + "stop, restart, start, pause, resume, partition, delay, bandwidth, reset, heal, loss, duplicate, corrupt, expect_failover, "
            + "expect_no_failover, expect_primary_master, expect_recovery, set_shards, db_lock, sleep, run, skew, gateway, nemesis, contacts, upgrade, handover, dbupgrade, workload, settings",
        "chaos/t.yml:7: steps[2]: a step has exactly one key, its kind; got 3: partition, from, to "
            + "(indent from, to under partition?)",
        "chaos/t.yml:10: steps[3]: a step has exactly one key, its kind; got 2: sleep, stop",
        "chaos/t.yml:12: steps[4]: expected a step (a mapping with one key, its kind), got 5",
    ]),
    BadFile(name: "unknown keys inside steps", yaml: preamble + """
          - delay: {from: master1, to: wacore1, ms: 100, jiter_ms: 5}
          - check_health: {golden: ha.json, timeout: 5}
        """, errors: [
        "chaos/t.yml:5: steps[0].delay.jiter_ms: unknown key; did you mean \"jitter_ms\"?",
        "chaos/t.yml:6: steps[1].check_health.timeout: unknown key; expected one of golden, within",
    ]),
    BadFile(name: "selector syntax errors", yaml: preamble + """
          - kill: owner(0)
          - kill: ownr(shard:0)
          - kill: owner
          - kill: random(wacore1)
          - kill: any(standby
          - kill: standby extra
          - kill: "  "
        """, errors: [
        "chaos/t.yml:5: steps[0].kill: expected owner(shard: N) with N a shard number (0, 1, ...), got \"owner(0)\"",
        "chaos/t.yml:6: steps[1].kill: only owner(shard: N), any(ROLE) and random(ROLE) take arguments, "
            + "got \"ownr(...)\"; did you mean \"owner\"?",
        "chaos/t.yml:7: steps[2].kill: owner needs a shard: owner(shard: N)",
        "chaos/t.yml:8: steps[3].kill: random(...) picks among the nodes of a role (standby, coreapp, master, webapp, "
            + "secondary_master, owner(shard: N)), got \"wacore1\"",
        "chaos/t.yml:9: steps[4].kill: expected \")\" after \"any(standby\"",
        "chaos/t.yml:10: steps[5].kill: unexpected \"extra\" after standby",
        "chaos/t.yml:11: steps[6].kill: expected a node selector, got \"  \"",
    ]),
    BadFile(name: "expect_failover needs an earlier fault", yaml: preamble + """
          - wait_healthy: {timeout: 60}
          - expect_failover: {shard: 0, bound: heartbeat}
          - kill: wacore1
          - expect_failover: {shard: 0, bound: {min: 30, max: 20}}
          - expect_failover: {bound: fast}
        """, errors: [
        "chaos/t.yml:6: steps[1].expect_failover: no earlier fault step (kill, stop, restart, pause, partition, delay, "
            + "bandwidth, reset) to measure the failover from",
        "chaos/t.yml:8: steps[3].expect_failover.bound.max: must be more than min (30), got 20",
        "chaos/t.yml:9: steps[4].expect_failover.bound: expected \"heartbeat\", \"db\" or {min: A, max: B}, got \"fast\"",
    ]),
    BadFile(name: "start, labels and role selectors", yaml: """
        name: t
        topology: {masters: 1, coreapps: 2, standby_coreapps: 1}
        steps:
          - start: standby
          - start: wacore3
          - restart: $victim
          - kill: {node: wacore9, as: victim}
          - restart: $victm
          - kill: secondary_master
          - kill: {node: wacore1, as: Victim}
        """, errors: [
        "chaos/t.yml:4: steps[0].start: start takes a node name or $label (a stopped node plays no role), got standby",
        "chaos/t.yml:6: steps[2].restart: $victim is not bound by an earlier step (bind it with {node: ..., as: victim})",
        "chaos/t.yml:7: steps[3].kill.node: unknown node \"wacore9\": the topology defines wacore1..wacore3",
        "chaos/t.yml:8: steps[4].restart: $victm is not bound by an earlier step (bind it with {node: ..., as: victm}); "
            + "did you mean \"victim\"?",
        "chaos/t.yml:9: steps[5].kill: the topology has one master, so there is never a secondary master",
        "chaos/t.yml:10: steps[6].kill.as: expected a label ([a-z][a-z0-9_]*, used later as $label), got \"Victim\"",
    ]),
    BadFile(name: "links", yaml: preamble + """
          - partition: {from: gateway, to: wacore1}
          - delay: {from: master1, to: master1, ms: 10}
          - reset: {from: db, to: wacore1}
          - heal: everything
          - bandwidth: {from: waweb, bytes_per_second: 0}
          - partition: {from: waweb, to: wacore1, direction: sideways}
        """, errors: [
        "chaos/t.yml:5: steps[0].partition.from: gateway only accepts connections; a link goes from a webapp, master "
            + "or coreapp to it",
        "chaos/t.yml:6: steps[1].delay: from and to are the same node (master1)",
        "chaos/t.yml:7: steps[2].reset.from: db only accepts connections; a link goes from a webapp, master or coreapp to it",
        "chaos/t.yml:8: steps[3].heal: expected \"all\" or {from: X, to: Y}, got \"everything\"",
        "chaos/t.yml:9: steps[4].bandwidth.to: missing required field",
        "chaos/t.yml:9: steps[4].bandwidth.bytes_per_second: expected an integer of at least 1, got 0",
        "chaos/t.yml:10: steps[5].partition.direction: expected \"both\" or \"one_way\", got \"sideways\"",
    ]),
    BadFile(name: "other step values", yaml: preamble + """
          - set_shards: 3
          - run: ""
          - delay: {from: waweb, to: wacore1, ms: 1.5}
          - wait_healthy: 5
          - expect_primary_master: {changes: sometimes}
        """, errors: [
        "chaos/t.yml:5: steps[0].set_shards: expected 1, 2, 4, 8, 16 or 32, got 3",
        "chaos/t.yml:6: steps[1].run: expected a shell command, got an empty string",
        "chaos/t.yml:7: steps[2].delay.ms: expected an integer, got 1.5",
        "chaos/t.yml:8: steps[3].wait_healthy: expected {timeout: ...}, got 5",
        "chaos/t.yml:9: steps[4].expect_primary_master.changes: expected true or false, got \"sometimes\"",
        "chaos/t.yml:9: steps[4].expect_primary_master.within: missing required field",
    ]),
]

@Test("bad files produce exactly these errors", arguments: badFiles)
func badFileErrors(_ case_: BadFile) {
    #expect(errorLines(case_.yaml) == case_.errors)
}

@Test func partitionDirectionErrorNamesFileLineAndField() {
    let yaml = """
    name: heartbeat-failover-partitioned-owner
    description: The primary master loses sight of the owner.
    topology:
      db: sqlite
      webapps: 1
      masters: 2
      coreapps: 2
    settings:
      unhealthy_interval: 30
    steps:
      - wait_healthy: {timeout: 60}
      - check_health: {golden: ha-registered.json}
      - sleep: 1
      - partition: {from: primary_master, to: owner(shard: 0), direction: sideways}
    """
    #expect(errorLines(yaml, file: "chaos/failover.yml") == [
        "chaos/failover.yml:14: steps[3].partition.direction: expected \"both\" or \"one_way\", got \"sideways\"",
    ])
}

@Test func parseThrowsEveryErrorOfTheFile() throws {
    let yaml = preamble + "  - kill: wacore7\n  - sleep: -1\n"
    let error = try #require(throws: ScenarioErrors.self) { try ScenarioLoader.parse(yaml: yaml, file: "x.yml") }
    #expect(error.errors.map(\.line) == [5, 6])
    #expect(error.errors.map(\.field) == ["steps[0].kill", "steps[1].sleep"])
    #expect(error.description == """
        x.yml:5: steps[0].kill: unknown node "wacore7": the topology defines wacore1..wacore3
        x.yml:6: steps[1].sleep: expected a duration in logical seconds (more than 0), got -1
        """)
}
