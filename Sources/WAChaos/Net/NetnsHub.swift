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
        NamespaceSweeper.remove(NamespaceSweeper.namespaces(of: tag).filter { $0 != tag.hubNamespace })
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

    /// In the re-executed runner: the hosts, after probing the kernel; nil before the re-exec.
    public static func joined() throws -> NetnsHosts? {
        guard let named = ProcessInfo.processInfo.environment[hubVariable] else { return nil }
        let tag = RunTag.current()
        guard named == tag.description, NamespaceFabric.isInHub(tag: tag) else {
            throw NetHostsError(.notInHub, "\(hubVariable)=\(named) but this process is not in that hub; unset \(hubVariable) (the runner sets it for itself)")
        }
        unsetenv(hubVariable)
        let features = try KernelFeatures.probe(tag: tag)
        return NetnsHosts(tag: tag, features: features)
    }

    /// Sweeps what dead runs left, creates the hub, starts the janitor and re-executes this
    /// process inside the hub. Returns only by throwing.
    public static func enterAndReexecute(log: (String) -> Void) throws -> Never {
        let tag = RunTag.current()
        let swept = NamespaceSweeper.remove(NamespaceSweeper.stale())
        if !swept.isEmpty { log("removed \(swept.count) namespace(s) that earlier runs left: \(swept.joined(separator: " "))") }
        try NamespaceFabric.createHub(tag: tag)
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        try NamespaceJanitor.start(executable: exe, tag: tag)
        setenv(hubVariable, tag.description, 1)
        try NamespaceFabric.enterOnThisThread("\(NamespaceSweeper.directory)/\(tag.hubNamespace)")
        // What was printed so far would be lost with the old image.
        fflush(nil)
        var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) } + [nil]
        execv(exe, &argv)
        let error = String(cString: strerror(errno))
        NamespaceSweeper.removeRun(tag)
        throw NetHostsError(.commandFailed, "could not re-execute \(exe) inside the hub namespace: \(error)")
    }
}

/// A process outside the runner's session that removes the run's namespaces once the runner is
/// gone, however it ended: it holds the read end of a pipe whose only write end is the runner's,
/// so end of file means the runner exited (a SIGKILL included).
public enum NamespaceJanitor {
    /// Starts `executable netns-janitor --tag TAG` detached (`setsid --fork`), its stdin the pipe.
    static func start(executable: String, tag: RunTag) throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw NetHostsError(.commandFailed, "pipe() for the janitor failed: \(String(cString: strerror(errno)))") }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        // The janitor must not hold the write end itself; the runner keeps it across its exec.
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        p.arguments = ["--fork", executable, "netns-janitor", "--tag", tag.description]
        p.standardInput = FileHandle(fileDescriptor: readEnd, closeOnDealloc: false)
        p.standardOutput = FileHandle.standardError
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
        _ = fcntl(writeEnd, F_SETFD, 0)
    }

    /// The janitor's body: deaf to the terminal's signals, it waits for end of file on stdin, then
    /// removes every namespace of `tag` (killing what still runs inside) and reports what it did.
    public static func run(tag: RunTag) -> [String] {
        for s in [SIGINT, SIGTERM, SIGHUP, SIGPIPE] { signal(s, SIG_IGN) }
        var byte: UInt8 = 0
        while true {
            let n = read(0, &byte, 1)
            if n == 0 || (n < 0 && errno != EINTR) { break }
        }
        return NamespaceSweeper.removeRun(tag)
    }
}
