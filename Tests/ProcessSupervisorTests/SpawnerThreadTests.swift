import CProcessShim
import Foundation
import WACore
import ProcessSupervisor
import Testing

/// PR_SET_PDEATHSIG fires when the *thread* that forked exits. These tests show the hazard is
/// real here and that the supervisor's children survive the threads and tasks that asked.
@Suite("Spawner thread")
struct SpawnerThreadTests {
    @Test func childrenOutliveTheTasksAndThreadsThatSpawnedThem() async throws {
        let scratch = try Scratch()
        let supervisor = Supervisor()
        var nodes = try await withThrowingTaskGroup(of: ManagedProcess.self) { group in
            for spec in (0..<3).map({ shell("task\($0)", "sleep 30", in: scratch) }) {
                group.addTask { try supervisor.spawn(spec) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        nodes.append(try spawnOnAThreadThatThenExits(supervisor, shell("thread", "sleep 30", in: scratch)))

        // Long enough for an exited forking thread's PDEATHSIG to have killed its child.
        try await Task.sleep(for: .milliseconds(500))
        for node in nodes {
            #expect(node.isAlive, "\(node) died with the thread that asked for it")
            #expect(ProcStat(pid: node.pid).map { $0.state != "Z" } == true)
            #expect(ProcStat(pid: node.pid)?.parent == getpid())
        }
        await supervisor.shutdown(grace: .zero)
    }

    /// The control: forking straight from a short-lived thread does kill the child.
    @Test func forkingFromAThreadThatExitsKillsTheChild() async throws {
        let pid = Locked<pid_t>(0)
        let thread = Thread { pid.withLock { $0 = forkSleeperDirectly() } }
        thread.start()
        #expect(await eventually { thread.isFinished })
        let child = pid.value
        try #require(child > 0)

        #expect(await eventually { isDead(child) }, "PDEATHSIG fired when the forking thread exited")
        var status: Int32 = 0
        #expect(waitpid(child, &status, 0) == child)
        #expect(status & 0x7f == SIGKILL)
    }

    /// `sleep 30` through the shim, from whatever thread calls this, bypassing the supervisor.
    private func forkSleeperDirectly() -> pid_t {
        let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(devNull) }
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("sleep"), strdup("30"), nil]
        defer { argv.forEach { free($0) } }
        let envp: [UnsafeMutablePointer<CChar>?] = [nil]
        var stage: Int32 = 0
        return argv.withUnsafeBufferPointer { argvBuffer in
            envp.withUnsafeBufferPointer { envpBuffer in
                "/bin/sleep".withCString { path in
                    var request = wa_spawn_request(executable: path, argv: argvBuffer.baseAddress, envp: envpBuffer.baseAddress,
                                                   working_directory: nil, log_fd: devNull, expected_parent: getpid(),
                                                   switch_user: 0, uid: 0, gid: 0, network_namespace: nil)
                    return wa_spawn(&request, &stage)
                }
            }
        }
    }

    private func spawnOnAThreadThatThenExits(_ supervisor: Supervisor, _ spec: ProcessSpec) throws -> ManagedProcess {
        let outcome = Locked<Result<ManagedProcess, Error>?>(nil)
        let thread = Thread { outcome.withLock { $0 = Result { try supervisor.spawn(spec) } } }
        thread.start()
        guard eventuallyBlocking(within: .seconds(5), { thread.isFinished }) else {
            throw SupervisorError.invalidSpec(name: spec.name, reason: "spawning thread never finished")
        }
        return try outcome.value!.get()
    }
}
