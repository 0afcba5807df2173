import Foundation
import ProcessSupervisor
import Testing

@Suite("Spawn failures")
struct SpawnFailureTests {
    @Test func missingExecutableIsNamedInTheError() throws {
        let scratch = try Scratch()
        let supervisor = Supervisor()
        let spec = ProcessSpec(name: "ghost", executable: "/nonexistent/wa-node", logFile: scratch.file("ghost.log"))
        let error = #expect(throws: SupervisorError.self) { try supervisor.spawn(spec) }
        #expect(error?.code == "executable-not-found")
        #expect(error?.description.contains("/nonexistent/wa-node") == true)
        #expect(unexecedZombieChildren().isEmpty)
    }

    @Test func bareNamesAreLookedUpInThePath() throws {
        let scratch = try Scratch()
        let supervisor = Supervisor()
        let spec = ProcessSpec(name: "ghost", executable: "no-such-wa-node", environment: ["PATH": "/usr/bin:/bin"],
                               logFile: scratch.file("ghost.log"))
        #expect(throws: SupervisorError.executableNotFound(executable: "no-such-wa-node", searched: ["/usr/bin", "/bin"])) {
            try supervisor.spawn(spec)
        }
    }

    @Test func execFailureAfterForkIsReportedAndReaped() throws {
        let scratch = try Scratch()
        // Executable, but its interpreter does not exist: only execve itself can tell.
        let script = scratch.file("broken.sh")
        try "#!/nonexistent/interpreter\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let supervisor = Supervisor()
        let spec = ProcessSpec(name: "broken", executable: script, logFile: scratch.file("broken.log"))
        // Tests run in parallel: another test's fork can briefly hold the script's write
        // descriptor (between its fork and exec), and execve then says ETXTBSY. Retry that.
        var outcome: Error?
        for _ in 0..<20 {
            do { _ = try supervisor.spawn(spec); outcome = nil; break }
            catch let e as SupervisorError where e == .execFailed(path: script, errno: ETXTBSY) { outcome = e; continue }
            catch { outcome = error; break }
        }
        #expect(outcome as? SupervisorError == .execFailed(path: script, errno: ENOENT))
        #expect(unexecedZombieChildren().isEmpty, "the failed child was reaped by the spawner")
        #expect(supervisor.process(named: "broken") == nil)
    }

    @Test func notExecutableFileIsRejectedBeforeForking() throws {
        let scratch = try Scratch()
        let file = scratch.file("plain.txt")
        try "text".write(toFile: file, atomically: true, encoding: .utf8)
        let supervisor = Supervisor()
        let spec = ProcessSpec(name: "plain", executable: file, logFile: scratch.file("plain.log"))
        #expect(throws: SupervisorError.notExecutable(path: file)) { try supervisor.spawn(spec) }
    }

    @Test func unopenableLogFileIsReported() throws {
        let supervisor = Supervisor()
        let spec = ProcessSpec(name: "mute", executable: "/bin/true", logFile: "/nonexistent-dir/mute.log")
        let error = #expect(throws: SupervisorError.self) { try supervisor.spawn(spec) }
        #expect(error == .logFileUnavailable(path: "/nonexistent-dir/mute.log", errno: ENOENT))
        #expect(error?.description.contains("Create its directory") == true)
    }

    @Test func missingWorkingDirectoryIsReportedFromTheChild() throws {
        let scratch = try Scratch()
        let supervisor = Supervisor()
        var spec = shell("lost", "true", in: scratch)
        spec.workingDirectory = scratch.file("missing")
        #expect(throws: SupervisorError.workingDirectoryUnavailable(path: scratch.file("missing"), errno: ENOENT)) {
            try supervisor.spawn(spec)
        }
        #expect(unexecedZombieChildren().isEmpty)
    }
}
