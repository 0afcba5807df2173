import Foundation
import ProcessSupervisor
import Testing

/// What happens to nodes when the runner itself dies. Each test runs a real runner: an exit
/// test is a separate process (this test binary, re-executed) that builds its own Supervisor.
@Suite("Runner death")
struct RunnerDeathTests {
    @Test func childrenDieWhenTheRunnerIsSIGKILLed() async throws {
        let scratch = try Scratch()
        let directory = scratch.path
        await #expect(processExitsWith: .signal(SIGKILL)) { [directory = directory as String] in
            let supervisor = Supervisor()
            let node = try supervisor.spawn(ProcessSpec(name: "orphan-to-be", executable: "/bin/sleep", arguments: ["30"],
                                                        logFile: directory + "/node.log"))
            try "\(node.pid)".write(toFile: directory + "/node.pid", atomically: true, encoding: .utf8)
            kill(getpid(), SIGKILL) // no handler, no cleanup: only the kernel can help the child now
        }
        let failure = exitTestFailureMessage(in: scratch)
        let node = try #require(pidWritten(to: scratch.file("node.pid")), "runner failed: \(failure)")
        #expect(await eventually(within: .seconds(2)) { isDead(node) }, "PDEATHSIG should have killed \(node)")
    }

    @Test func signalHandlersKillEveryGroupAndExitWith143() async throws {
        let scratch = try Scratch()
        let directory = scratch.path
        await #expect(processExitsWith: .exitCode(143)) { [directory = directory as String] in
            let supervisor = Supervisor()
            supervisor.installSignalHandlers()
            let node = try supervisor.spawn(ProcessSpec(
                name: "node", executable: "/bin/sh",
                arguments: ["-c", "sleep 30 & echo $! > grandchild.pid; wait"],
                workingDirectory: directory, logFile: directory + "/node.log"))
            try "\(node.pid)".write(toFile: directory + "/node.pid", atomically: true, encoding: .utf8)
            guard eventuallyBlocking({ pidWritten(to: directory + "/grandchild.pid") != nil }) else {
                exitTestFailure("the node never started its grandchild", in: directory)
            }
            kill(getpid(), SIGTERM)
            // The handler exits the process; getting past this wait means it never ran.
            _ = DispatchSemaphore(value: 0).wait(timeout: .now() + 5)
            exitTestFailure("SIGTERM did not end the runner", in: directory)
        }
        let failure = exitTestFailureMessage(in: scratch)
        let node = try #require(pidWritten(to: scratch.file("node.pid")), "runner failed: \(failure)")
        let grandchild = try #require(pidWritten(to: scratch.file("grandchild.pid")))
        #expect(await eventually(within: .seconds(2)) { isDead(node) })
        // PDEATHSIG only covers the direct child; the grandchild dies only if the group was killed.
        #expect(await eventually(within: .seconds(2)) { isDead(grandchild) }, "group not killed")
    }

    @Test func subreaperAdoptsOrphansAndShutdownReapsThem() async throws {
        let scratch = try Scratch()
        let directory = scratch.path
        await #expect(processExitsWith: .success) { [directory = directory as String] in
            let supervisor = Supervisor()
            try supervisor.enableSubreaper()
            // A node that daemonizes a helper into its own session and exits: the helper escapes
            // the node's process group, and its parent is gone.
            let node = try supervisor.spawn(ProcessSpec(
                name: "daemonizer", executable: "/bin/sh",
                // It waits until the helper has its own session, so the group sweep at its exit cannot catch it.
                arguments: ["-c", "setsid sh -c 'echo $$ > daemon.pid; exec sleep 30' & while [ ! -s daemon.pid ]; do sleep 0.01; done"],
                workingDirectory: directory, logFile: directory + "/node.log"))
            guard let status = await node.waitForExit(timeout: .seconds(5)), status == .exited(0) else {
                exitTestFailure("the daemonizing node did not exit cleanly", in: directory)
            }
            guard let daemon = pidWritten(to: directory + "/daemon.pid") else { exitTestFailure("no daemon pid", in: directory) }
            guard eventuallyBlocking({ ProcStat(pid: daemon)?.parent == getpid() }) else {
                exitTestFailure("the orphan was not reparented to the runner: \(String(describing: ProcStat(pid: daemon)))", in: directory)
            }
            guard ProcStat(pid: daemon)?.state != "Z" else { exitTestFailure("the orphan died on its own", in: directory) }

            await supervisor.shutdown(grace: .seconds(1))
            guard isReaped(daemon) else {
                exitTestFailure("the adopted orphan survived shutdown or was left a zombie: \(String(describing: ProcStat(pid: daemon)))", in: directory)
            }
            exit(0)
        }
        let failure = exitTestFailureMessage(in: scratch)
        #expect(failure.isEmpty, "\(failure)")
    }

    @Test func childrenStartWithDefaultSignalDispositionsAndAnEmptyMask() async throws {
        let scratch = try Scratch()
        let directory = scratch.path
        await #expect(processExitsWith: .success) { [directory = directory as String] in
            // What a runner does before installing its Dispatch signal sources, plus a blocked signal.
            signal(SIGTERM, SIG_IGN)
            signal(SIGINT, SIG_IGN)
            signal(SIGHUP, SIG_IGN)
            var blocked = sigset_t()
            sigemptyset(&blocked)
            sigaddset(&blocked, SIGUSR1)
            pthread_sigmask(SIG_BLOCK, &blocked, nil)

            let supervisor = Supervisor()
            let node = try supervisor.spawn(ProcessSpec(name: "sleeper", executable: "/bin/sleep", arguments: ["30"],
                                                        logFile: directory + "/node.log"))
            let status = contents(of: "/proc/\(node.pid)/status")
            for field in ["SigIgn", "SigBlk"] {
                let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? "missing"
                guard line.hasSuffix("0000000000000000") else { exitTestFailure("child inherited \(line)", in: directory) }
            }
            node.terminate()
            guard await node.waitForExit(timeout: .seconds(3)) == .signalled(SIGTERM) else {
                exitTestFailure("terminate() did not end a child of a runner that ignores SIGTERM", in: directory)
            }
            exit(0)
        }
        let failure = exitTestFailureMessage(in: scratch)
        #expect(failure.isEmpty, "\(failure)")
    }
}
