import Foundation
import ProcessSupervisor
import Testing

@Suite("Faults")
struct FaultTests {
    @Test func pausedChildStopsWritingAndContinuesAfterResume() async throws {
        let scratch = try Scratch()
        let supervisor = Supervisor()
        let log = scratch.file("counter.log")
        let node = try supervisor.spawn(shell("counter", "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done", in: scratch))
        #expect(await eventually { lineCount(log) >= 3 })

        #expect(node.pause())
        #expect(await eventually { groupIsStopped(node.pgid) })
        let linesWhenPaused = lineCount(log)
        try await Task.sleep(for: .milliseconds(400))
        #expect(lineCount(log) == linesWhenPaused, "a paused group writes nothing")
        #expect(node.isAlive)

        #expect(node.resume())
        #expect(await eventually { lineCount(log) >= linesWhenPaused + 3 })
        #expect(!groupIsStopped(node.pgid))
        await supervisor.shutdown(grace: .zero)
    }

    @Test func terminateRunsTheChildsTermTrap() async throws {
        let scratch = try Scratch()
        let supervisor = Supervisor()
        let log = scratch.file("polite.log")
        let node = try supervisor.spawn(shell("polite", "trap 'echo bye; exit 0' TERM; echo ready; while true; do sleep 0.1; done", in: scratch))
        #expect(await eventually { contents(of: log).contains("ready") })

        #expect(node.terminate())
        #expect(await node.waitForExit(timeout: .seconds(3)) == .exited(0))
        #expect(contents(of: log).contains("bye"))
        await supervisor.shutdown(grace: .zero)
    }

    @Test func restartKeepsNameAndLogAndGetsANewPid() async throws {
        let scratch = try Scratch()
        let supervisor = Supervisor()
        let log = scratch.file("phoenix.log")
        let first = try supervisor.spawn(shell("phoenix", "echo run $$; sleep 30", in: scratch))
        #expect(await eventually { contents(of: log).contains("run \(first.pid)") })

        let second = try await first.restart()
        #expect(second.name == "phoenix")
        #expect(second.pid != first.pid)
        #expect(second.spec == first.spec)
        #expect(first.state == .signalled(SIGKILL))
        #expect(supervisor.process(named: "phoenix") === second)
        #expect(await eventually { contents(of: log).contains("run \(second.pid)") })
        let runs = contents(of: log).split(separator: "\n").filter { $0.hasPrefix("run ") }
        #expect(runs == ["run \(first.pid)", "run \(second.pid)"], "both runs appended to one log")
        await supervisor.shutdown(grace: .zero)
    }

    @Test func killTakesDownGrandchildrenInTheGroup() async throws {
        let scratch = try Scratch()
        let supervisor = Supervisor()
        let node = try supervisor.spawn(shell("parent", "sleep 30 & echo $! > grandchild.pid; wait", in: scratch))
        #expect(await eventually { pidWritten(to: scratch.file("grandchild.pid")) != nil })
        let grandchild = try #require(pidWritten(to: scratch.file("grandchild.pid")))
        #expect(getpgid(grandchild) == node.pgid)

        node.kill()
        #expect(await node.waitForExit(timeout: .seconds(1)) == .signalled(SIGKILL))
        #expect(await eventually(within: .seconds(1)) { isDead(grandchild) })
        await supervisor.shutdown(grace: .zero)
    }

    @Test func leaderExitTakesItsGroupWithItLikeAContainer() async throws {
        let scratch = try Scratch()
        let supervisor = Supervisor()
        let node = try supervisor.spawn(shell("leaver", "sleep 30 & echo $! > grandchild.pid; exit 3", in: scratch))
        #expect(await node.waitForExit(timeout: .seconds(3)) == .exited(3))
        let grandchild = try #require(pidWritten(to: scratch.file("grandchild.pid")))
        #expect(await eventually(within: .seconds(1)) { isDead(grandchild) })
        await supervisor.shutdown(grace: .zero)
    }
}
