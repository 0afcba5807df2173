import Foundation
import ProcessSupervisor

/// A fresh temporary directory per test, removed when the value is released.
final class Scratch {
    let path: String

    init() throws {
        var template = Array((NSTemporaryDirectory() + "/supervisor-test-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

/// A `/bin/sh -c script` node logging to `<name>.log` in `scratch`.
func shell(_ name: String, _ script: String, in scratch: Scratch) -> ProcessSpec {
    ProcessSpec(name: name, executable: "/bin/sh", arguments: ["-c", script],
                environment: ["PATH": "/usr/bin:/bin"], workingDirectory: scratch.path,
                logFile: scratch.file("\(name).log"))
}

/// The file's text, or "" if it does not exist yet.
func contents(of path: String) -> String {
    (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
}

/// The pid a shell wrote into `path`, once it has.
func pidWritten(to path: String) -> pid_t? {
    pid_t(contents(of: path).trimmingCharacters(in: .whitespacesAndNewlines))
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes. (Tests may sleep.)
func eventually(within timeout: Duration = .seconds(3), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return true
}

/// Blocking variant for exit-test bodies and threads.
func eventuallyBlocking(within timeout: Duration = .seconds(3), _ condition: () -> Bool) -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        usleep(20_000)
    }
    return true
}

/// Fields of /proc/PID/stat: state letter, parent, process group, command name.
struct ProcStat {
    let state: Character
    let parent: pid_t
    let group: pid_t
    let command: String

    init?(pid: pid_t) {
        let text = contents(of: "/proc/\(pid)/stat")
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 3, let state = fields[0].first, let parent = pid_t(fields[1]),
              let group = pid_t(fields[2]) else { return nil }
        self.state = state
        self.parent = parent
        self.group = group
        self.command = String(text[text.index(after: open)..<close])
    }
}

/// Every member of process group `group` is stopped. A shell caught inside vfork (state D,
/// waiting for its stopped child to exec) counts too: it cannot run until that child does.
func groupIsStopped(_ group: pid_t) -> Bool {
    let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
    let states = pids.compactMap { ProcStat(pid: $0) }.filter { $0.group == group }.map(\.state)
    return states.contains("T") && states.allSatisfy { $0 == "T" || $0 == "t" || $0 == "D" }
}

/// Gone for good, or a zombie waiting for whatever reaper it was reparented to.
func isDead(_ pid: pid_t) -> Bool {
    guard let stat = ProcStat(pid: pid) else { return true }
    return stat.state == "Z" || stat.state == "X"
}

/// Reaped: no /proc entry, and not a child of this process any more.
func isReaped(_ pid: pid_t) -> Bool {
    var status: Int32 = 0
    let waited = waitpid(pid, &status, WNOHANG)
    return waited == -1 && errno == ECHILD && ProcStat(pid: pid) == nil
}

/// Children of this process in state Z whose name says they never got to exec: the spawner
/// thread is named "ProcessSupervisor.spawner", truncated by the kernel to 15 characters.
func unexecedZombieChildren() -> [pid_t] {
    let me = getpid()
    let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
    return pids.filter { pid in
        guard let stat = ProcStat(pid: pid) else { return false }
        return stat.parent == me && stat.state == "Z" && stat.command.hasPrefix("ProcessSupervis")
    }
}

/// The number of non-empty lines in a file.
func lineCount(_ path: String) -> Int {
    contents(of: path).split(separator: "\n").count
}

/// Ends an exit-test body with exit code 99, leaving `message` in `directory`/failure.txt for
/// the parent test to show (a failed exit condition returns no stderr to look at).
func exitTestFailure(_ message: String, in directory: String) -> Never {
    try? message.write(toFile: directory + "/failure.txt", atomically: true, encoding: .utf8)
    exit(99)
}

/// What an exit-test body reported through `exitTestFailure`, or "" if it did not fail.
func exitTestFailureMessage(in scratch: Scratch) -> String {
    contents(of: scratch.file("failure.txt"))
}
