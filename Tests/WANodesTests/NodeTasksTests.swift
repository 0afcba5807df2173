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
        #expect(!tasks.spawn { await outcome.set("after finish") }, "work was taken after finish")
        #expect(await outcome.value == "done")
    }
}

@Suite("Node side work, stopping")
struct NodeTasksStoppingTests {
    /// Work taken just before the service ends still starts (cancelled), so whoever waits on it
    /// is answered; work offered afterwards is refused, so the caller can answer for itself.
    @Test func workQueuedWhenTheServiceEndsStillRunsAndLaterWorkIsRefused() async {
        let tasks = NodeTasks()
        let outcome = Outcome()
        await tasks.serving {
            for i in 0..<50 { tasks.spawn { await outcome.add(i, cancelled: Task.isCancelled) } }
        }
        #expect(await outcome.ran.count == 50, "queued work was dropped when the service ended")
        #expect(!tasks.spawn { await outcome.add(99, cancelled: false) })
        #expect(await !outcome.ran.contains(99))
    }
}

actor Outcome {
    var value: String?
    var ran: [Int] = []
    func set(_ v: String) { value = v }
    func add(_ i: Int, cancelled: Bool) { ran.append(i) }
}
