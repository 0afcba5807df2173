import ShellTestKit
import Testing
import WACore
import WANodes

@Suite("Node side work")
struct NodeTasksTests {
    @Test func spawnedWorkRunsAsAChildAndIsCancelledWhenTheServiceEnds() async throws {
        let tasks = NodeTasks()
        let clock = ManualClock()
        let outcome = Outcome()
        await tasks.serving {
            tasks.spawn {
                do { try await clock.sleep(logicalSeconds: 3600); await outcome.set("woke") }
                catch { await outcome.set("cancelled") }
            }
            // Let the child park in the clock before the service ends.
            _ = await settles { clock.sleeperCount == 1 }
        }
        #expect(await outcome.value == "cancelled", "side work outlived its service")
        #expect(clock.sleeperCount == 0)
    }

    @Test func finishLetsRunningWorkComplete() async {
        let tasks = NodeTasks()
        let outcome = Outcome()
        tasks.spawn { await outcome.set("done") }
        tasks.finish()
        await tasks.run()
        #expect(await outcome.value == "done")
        tasks.spawn { await outcome.set("after finish") }
        #expect(await outcome.value == "done")
    }
}

actor Outcome {
    var value: String?
    func set(_ v: String) { value = v }
}
