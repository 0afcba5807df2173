import Foundation
import WACore
import ProcessSupervisor
import Testing

@Suite("Spawning and killing")
struct SpawnTests {
    @Test func childLogsToItsFileLeadsItsOwnGroupAndDiesOnKill() async throws {
        let scratch = try Scratch()
        let supervisor = Supervisor()
        let node = try supervisor.spawn(shell("hello", "echo hello; sleep 30", in: scratch))

        #expect(node.pid == node.pgid)
        #expect(getpgid(node.pid) == node.pid)
        #expect(getpgid(node.pid) != getpgrp())
        #expect(await eventually { contents(of: scratch.file("hello.log")).contains("hello") })

        let killedAt = ContinuousClock.now
        #expect(node.kill())
        // Generous bound: the whole test suite, clusters included, shares two cores.
        #expect(await node.waitForExit(timeout: .seconds(5)) == .signalled(SIGKILL))
        #expect(killedAt.duration(to: .now) < .seconds(5))
        #expect(node.state == .signalled(SIGKILL))
        #expect(node.exitedAt.map { $0 >= node.spawnedAt } == true)
        #expect(!node.kill(), "a reaped incarnation is never signalled again")
        #expect(isReaped(node.pid))
        await supervisor.shutdown(grace: .zero)
    }

    @Test func exitCodesAndEventsAreRecorded() async throws {
        let scratch = try Scratch()
        let supervisor = Supervisor()
        let handled = Locked<[ExitEvent]>([])
        supervisor.onExit { event in handled.withLock { $0.append(event) } }
        var events = supervisor.exitEvents().makeAsyncIterator()

        let node = try supervisor.spawn(shell("seven", "exit 7", in: scratch))
        #expect(await node.waitForExit(timeout: .seconds(3)) == .exited(7))

        let streamed = await events.next()
        #expect(streamed?.name == "seven")
        #expect(streamed?.pid == node.pid)
        #expect(streamed?.status == .exited(7))
        #expect(streamed.map { $0.exitedAt >= $0.spawnedAt } == true)
        #expect(handled.value.map(\.pid) == [node.pid])
        await supervisor.shutdown(grace: .zero)
    }

    @Test func waitForExitTimesOutOrIsCancelledOnARunningProcess() async throws {
        let scratch = try Scratch()
        let supervisor = Supervisor()
        let node = try supervisor.spawn(shell("sleeper", "sleep 30", in: scratch))
        #expect(await node.waitForExit(timeout: .milliseconds(100)) == nil)
        let cancelled = Task { await node.waitForExit() }
        cancelled.cancel()
        #expect(await cancelled.value == nil, "a cancelled wait returns without an exit")
        #expect(node.isAlive)
        await supervisor.shutdown(grace: .zero)
        #expect(!node.isAlive)
    }

    @Test func childGetsDevNullStdinTheSpecsEnvironmentAndNoLeakedDescriptors() async throws {
        let scratch = try Scratch()
        let supervisor = Supervisor()
        // A descriptor the runner opened without O_CLOEXEC, numbered high so it is easy to spot.
        let scratchFD = open(scratch.path, O_RDONLY)
        let leakable = fcntl(scratchFD, F_DUPFD, 200)
        close(scratchFD)
        defer { close(leakable) }
        try #require(leakable >= 200)

        var spec = shell("clean", "readlink /proc/$$/fd/0; ls /proc/$$/fd; env", in: scratch)
        spec.environment["WA_NODE_ID"] = "wacore1"
        let node = try supervisor.spawn(spec)
        #expect(await node.waitForExit(timeout: .seconds(3)) == .exited(0))

        let lines = contents(of: scratch.file("clean.log")).split(separator: "\n").map(String.init)
        #expect(lines.first == "/dev/null")
        #expect(!lines.contains("\(leakable)"), "fd \(leakable) leaked into the child: \(lines)")
        #expect(lines.contains("WA_NODE_ID=wacore1"))
        #expect(!lines.contains { $0.hasPrefix("HOME=") }, "the runner's environment is not inherited implicitly")
        await supervisor.shutdown(grace: .zero)
    }

    @Test func aNameCanOnlyRunOnce() async throws {
        let scratch = try Scratch()
        let supervisor = Supervisor()
        let node = try supervisor.spawn(shell("twin", "sleep 30", in: scratch))
        #expect(throws: SupervisorError.nameInUse(name: "twin")) {
            try supervisor.spawn(shell("twin", "sleep 30", in: scratch))
        }
        #expect(supervisor.process(named: "twin") === node)
        await supervisor.shutdown(grace: .zero)
    }
}

@Suite("Running a child as another user")
struct UserSwitchTests {
    /// A root runner starts PostgreSQL as `postgres`: the child gets that uid and gid, and still
    /// its own process group (the parent-death signal is set after the switch, which clears it).
    @Test(.enabled(if: getuid() == 0 && ProcessUser.named("nobody") != nil, "needs root and a 'nobody' user"))
    func theChildRunsAsTheGivenUser() async throws {
        let scratch = try Scratch()
        // The log is opened by the supervisor before the switch, so the child may write it anyway.
        chmod(scratch.path, 0o755)
        let supervisor = Supervisor()
        let nobody = try #require(ProcessUser.named("nobody"))
        var spec = shell("who", "id -u; id -g; sleep 30", in: scratch)
        spec.user = nobody
        spec.workingDirectory = "/"
        let node = try supervisor.spawn(spec)
        #expect(await eventually { contents(of: scratch.file("who.log")).split(separator: "\n").count >= 2 })
        let ids = contents(of: scratch.file("who.log")).split(separator: "\n").map(String.init)
        #expect(ids == ["\(nobody.uid)", "\(nobody.gid)"])
        #expect(getpgid(node.pid) == node.pid)
        #expect(node.kill())
        #expect(await node.waitForExit(timeout: .seconds(5)) == .signalled(SIGKILL))
        await supervisor.shutdown(grace: .zero)
    }

    @Test func anUnknownUserIsNil() {
        #expect(ProcessUser.named("no-such-user-\(getpid())") == nil)
    }
}
