import Testing
@testable import ChaosScenario

/// The steps of database faults (SPEC §12): `from: all`, `db_lock`, `expect_recovery` and
/// `expect_no_failover … since: fault`, read, written back and refused when wrong.
@Suite("Database fault steps")
struct DatabaseFaultStepTests {
    let yaml = """
        name: t
        topology: {db: sqlite, masters: 2, coreapps: 2}
        steps:
          - partition: {from: all, to: db}
          - delay: {from: all, to: db, ms: 200}
          - heal: {from: all, to: db}
          - db_lock: {for: 20}
          - expect_recovery: {}
          - expect_recovery:
          - expect_recovery: {within: 15}
          - expect_no_failover: {shard: 0, for: 10, since: fault}
        """

    @Test func everyStepReadsIntoTheModel() throws {
        let s = try ScenarioLoader.parse(yaml: yaml, file: "chaos/t.yml")
        let all = LinkSelector(from: .allNodes, to: .name("db"))
        #expect(s.steps == [
            .partition(all, direction: .both, line: 4),
            .delay(all, ms: 200, jitterMs: 0, line: 5),
            .heal(.link(all), line: 6),
            .dbLock(seconds: 20, line: 7),
            .expectRecovery(within: nil, line: 8),
            .expectRecovery(within: nil, line: 9),
            .expectRecovery(within: 15, line: 10),
            .expectNoFailover(shard: 0, duration: 10, sinceFault: true, line: 11),
        ])
        #expect(StepKind.dbLock.isFault)
        #expect(!StepKind.expectRecovery.isFault)
    }

    @Test func theWriterSpellsThemSoTheyReadBackTheSame() throws {
        let s = try ScenarioLoader.parse(yaml: yaml, file: "chaos/t.yml")
        let again = try ScenarioLoader.parse(yaml: ScenarioWriter.yaml(s, comment: "round trip"), file: "chaos/again.yml")
        #expect(again.steps.map(ScenarioWriter.step) == s.steps.map(ScenarioWriter.step))
        #expect(again.steps.map(\.kind) == s.steps.map(\.kind))
    }

    @Test func allNamesSeveralNodesSoOnlyALinksFromSideTakesIt() {
        let lines = errorLines("""
            name: t
            topology: {masters: 2, coreapps: 2}
            steps:
              - kill: all
              - partition: {from: wacore1, to: all}
              - kill: random(all)
            """)
        #expect(lines == [
            "chaos/t.yml:4: steps[0].kill: all names every webapp, master and coreapp; only a link's from side takes it (partition: {from: all, to: db})",
            "chaos/t.yml:5: steps[1].partition.to: all names every webapp, master and coreapp; only a link's from side takes it (partition: {from: all, to: db})",
            "chaos/t.yml:6: steps[2].kill: random(...) picks among the nodes of a role (standby, coreapp, master, webapp, secondary_master, owner(shard: N)), got \"all\"",
        ])
    }

    @Test func dbLockIsTheEmbeddedEnginesFaultOnly() {
        let lines = errorLines("""
            name: t
            topology: {db: postgres, masters: 2, coreapps: 2}
            steps:
              - db_lock: {for: 20}
              - db_lock: {seconds: 20}
            """)
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.first == "chaos/t.yml:4: steps[0].db_lock: db_lock holds the SQLite write lock, which only the embedded engine (db: sqlite) has; on postgres pause the db instead (pause: db)")
        #expect(lines.last?.hasPrefix("chaos/t.yml:5: steps[1].db_lock") == true)
    }

    @Test func sinceTakesOnlyFaultAndNeedsOne() {
        let lines = errorLines("""
            name: t
            topology: {masters: 2, coreapps: 2}
            steps:
              - expect_no_failover: {shard: 0, for: 10, since: fault}
              - expect_recovery: {}
              - kill: db
              - expect_no_failover: {shard: 0, for: 10, since: step}
            """)
        #expect(lines == [
            "chaos/t.yml:4: steps[0].expect_no_failover.since: no earlier fault step to hold the owner from",
            "chaos/t.yml:5: steps[1].expect_recovery: no earlier fault step on the database to recover from",
            "chaos/t.yml:7: steps[3].expect_no_failover.since: expected \"fault\" (hold the owner from the latest fault step on), got \"step\"",
        ])
    }
}
