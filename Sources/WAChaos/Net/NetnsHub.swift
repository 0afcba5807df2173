import ChaosScenario
import Foundation
import NetHosts
import ProcessSupervisor
import WACore

/// The run's namespace hosts, once the runner is inside its hub: the fabric every scenario's
/// cluster gets its hosts from, and the kernel features found at start.
public final class NetnsHosts: Sendable {
    public let tag: RunTag
    public let fabric: NamespaceFabric
    private let clusters = Locked(0)

    init(tag: RunTag, features: KernelFeatures) {
        self.tag = tag
        self.fabric = NamespaceFabric(tag: tag, features: features)
    }

    /// A fresh cluster number: its hosts get namespaces and addresses of their own.
    func nextCluster() -> Int { clusters.withLock { $0 += 1; return $0 } }

    /// Removes the hub's name at the end of the run (each cluster removed its hosts already;
    /// whatever a failure left is the janitor's once the runner exits).
    public func close() {
        NamespaceSweeper.remove(NamespaceSweeper.namespaces(of: tag).filter { $0 != tag.hubNamespace }, killing: true)
        fabric.removeHub()
    }
}

/// Which net a run needs, from `--net` and the scenarios' `topology.net`.
public enum NetRequirement: Equatable, Sendable {
    /// No scenario runs on namespaces.
    case none
    /// Namespaces where the capabilities allow, else the proxy mesh (`net: auto`).
    case preferred
    /// Namespaces or nothing (`--net netns`, or a file's `net: netns`): exit 2 without them.
    case required

    public static func of(cli: NetworkMode?, scenarios: [Scenario]) -> NetRequirement {
        switch cli {
        case .proxy: return .none
        case .netns: return .required
        case .auto: return .preferred
        case nil:
            let modes = scenarios.compactMap(\.topology.net)
            if modes.contains(.netns) { return .required }
            return modes.contains(.auto) ? .preferred : .none
        }
    }
}

/// Moves the runner into a hub namespace of its own. Network namespaces are per thread, and a
/// runner has many threads, so the runner creates the hub, starts the janitor, and re-executes
/// itself inside the hub (same pid, same arguments): everything it then opens (clients of the
/// REST API, webhook receivers, delay proxies, libpq) lives on the hub's bridge with the hosts.
public enum NetnsHub {
    static let hubVariable = "WACHAOS_NET_HUB"
    /// The descriptor number of the janitor's pipe across the re-exec.
    static let janitorVariable = "WACHAOS_NET_JANITOR_FD"

    /// In the re-executed runner: the hosts, after probing the kernel; nil before the re-exec.
    public static func joined() throws -> NetnsHosts? {
        guard let named = ProcessInfo.processInfo.environment[hubVariable] else { return nil }
        let tag = RunTag.current()
        guard named == tag.description, NamespaceFabric.isInHub(tag: tag) else {
            throw NetHostsError(.notInHub, "\(hubVariable)=\(named) but this process is not in that hub; unset \(hubVariable) (the runner sets it for itself)")
        }
        unsetenv(hubVariable)
        // The pipe to the janitor stays open in this image only: no child may inherit it.
        if let fd = ProcessInfo.processInfo.environment[janitorVariable].flatMap({ Int32($0) }) { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        unsetenv(janitorVariable)
        let features = try KernelFeatures.probe(tag: tag)
        return NetnsHosts(tag: tag, features: features)
    }

    /// Sweeps what dead runs left, creates the hub, starts the janitor and re-executes this
    /// process inside the hub. Returns only by throwing.
    public static func enterAndReexecute(log: (String) -> Void) throws -> Never {
        let tag = RunTag.current()
        let swept = NamespaceSweeper.remove(NamespaceSweeper.stale())
        if !swept.removed.isEmpty { log("removed \(swept.removed.count) namespace(s) that earlier runs left: \(swept.removed.joined(separator: " "))") }
        for line in swept.notes { log(line) }
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        // The janitor first: from here on, whatever this run makes is removed however it ends.
        let janitor = try NamespaceJanitor.start(executable: exe, tag: tag)
        do { try NamespaceFabric.createHub(tag: tag) } catch {
            NamespaceSweeper.removeRun(tag)
            throw error
        }
        setenv(hubVariable, tag.description, 1)
        setenv(janitorVariable, "\(janitor)", 1)
        // Entered on this thread only; put back if the exec fails, or the thread would serve
        // the rest of a proxy run from inside the (then deleted) hub.
        let home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        try NamespaceFabric.enterOnThisThread("\(NamespaceSweeper.directory)/\(tag.hubNamespace)")
        // What was printed so far would be lost with the old image.
        fflush(nil)
        var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) } + [nil]
        execv(exe, &argv)
        let error = String(cString: strerror(errno))
        if home >= 0 { _ = try? NamespaceFabric.enterOnThisThread("/proc/self/fd/\(home)"); close(home) }
        NamespaceSweeper.removeRun(tag)
        throw NetHostsError(.commandFailed, "could not re-execute \(exe) inside the hub namespace: \(error)")
    }
}

/// A process outside the runner's session that removes the run's namespaces once the runner is
/// gone, however it ended: it holds the read end of a pipe whose only write end is the runner's,
/// so end of file means the runner exited (a SIGKILL included).
public enum NamespaceJanitor {
    /// Starts `executable netns-janitor --tag TAG` detached (`setsid --fork`), its stdin the pipe,
    /// and waits until it says it is ready; answers the pipe's write end, which the runner keeps.
    @discardableResult
    static func start(executable: String, tag: RunTag) throws -> Int32 {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw NetHostsError(.commandFailed, "pipe() for the janitor failed: \(String(cString: strerror(errno)))") }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        // The janitor must not hold the write end itself; the runner keeps it across its exec.
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        p.arguments = ["--fork", executable, "netns-janitor", "--tag", tag.description]
        p.standardInput = FileHandle(fileDescriptor: readEnd, closeOnDealloc: false)
        // It says "ready" on stdout once it waits; what it reports later goes to stderr.
        let ready = Pipe()
        p.standardOutput = ready
        p.standardError = FileHandle.standardError
        do { try p.run() } catch {
            close(readEnd); close(writeEnd)
            throw NetHostsError(.missingTool, "cannot start the janitor through /usr/bin/setsid (util-linux): \(error)")
        }
        // setsid exits as soon as it has forked the janitor; reaped here, not by Foundation's
        // SIGCHLD monitor (which missed so short a child in a runner that had not started one yet).
        var status: Int32 = 0
        while waitpid(p.processIdentifier, &status, 0) < 0 && errno == EINTR {}
        close(readEnd)
        let readFD = ready.fileHandleForReading.fileDescriptor
        var pfd = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
        var said = [UInt8](repeating: 0, count: 16)
        let n = poll(&pfd, 1, 10_000) > 0 ? read(readFD, &said, said.count) : 0
        try? ready.fileHandleForReading.close()
        try? ready.fileHandleForWriting.close()
        guard status == 0, n > 0, String(decoding: said.prefix(n), as: UTF8.self).hasPrefix("ready") else {
            close(writeEnd)
            throw NetHostsError(.commandFailed, "the janitor (\(executable) netns-janitor) did not start (setsid status \(status)); without it a killed runner would leave its namespaces")
        }
        _ = fcntl(writeEnd, F_SETFD, 0)
        return writeEnd
    }

    /// The janitor's body: deaf to the terminal's signals, it waits for end of file on stdin, then
    /// removes every namespace of `tag` (killing what still runs inside) and reports what it did.
    public static func run(tag: RunTag) -> [String] {
        for s in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { signal(s, SIG_IGN) }
        let ready = Array("ready\n".utf8)
        _ = ready.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        close(1)
        var byte: UInt8 = 0
        while true {
            let n = read(0, &byte, 1)
            if n == 0 || (n < 0 && errno != EINTR) { break }
        }
        return NamespaceSweeper.removeRun(tag)
    }
}
