import Foundation
import ProcessSupervisor
import Testing

@Suite("Shutdown")
struct ShutdownTests {
    @Test func shutdownStopsEveryChildAndLeavesNoZombies() async throws {
        let scratch = try Scratch()
        let supervisor = Supervisor()
        let polite = try supervisor.spawn(shell("polite", "sleep 30", in: scratch))
        let stubborn = try supervisor.spawn(shell("stubborn", "trap '' TERM; echo ready; sleep 30", in: scratch))
        // sleep itself, not a shell around it: a shell stopped inside vfork shows D, not T.
        let frozen = try supervisor.spawn(ProcessSpec(name: "frozen", executable: "/bin/sleep", arguments: ["30"],
                                                      logFile: scratch.file("frozen.log")))
        #expect(await eventually { contents(of: scratch.file("stubborn.log")).contains("ready") })
        #expect(frozen.pause())
        #expect(await eventually { ProcStat(pid: frozen.pid)?.state == "T" })

        let started = ContinuousClock.now
        await supervisor.shutdown(grace: .milliseconds(300))
        // 300 ms grace, then SIGKILL and reaping. The bound is loose on purpose: the whole test
        // suite (real clusters included) shares two cores; it still fails a shutdown that hangs
        // or sits out its 5 s kill timeout on top of the grace.
        #expect(started.duration(to: .now) < .seconds(5.3))

        #expect(polite.exitStatus == .signalled(SIGTERM))
        #expect(stubborn.exitStatus == .signalled(SIGKILL), "ignored SIGTERM, so killed after the grace period")
        #expect(frozen.exitStatus == .signalled(SIGTERM), "a paused child is continued so SIGTERM can act")
        for node in [polite, stubborn, frozen] {
            #expect(isReaped(node.pid), "\(node) left a zombie or is still running")
        }

        #expect(throws: SupervisorError.shutDown) { try supervisor.spawn(shell("late", "true", in: scratch)) }
        let again = ContinuousClock.now
        await supervisor.shutdown(grace: .seconds(5))
        #expect(again.duration(to: .now) < .seconds(2), "a second shutdown has nothing to wait for")
    }
}
