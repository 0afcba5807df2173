import Foundation
import Synchronization

/// Starts nodes as separate processes, each in its own process group, and watches them.
///
/// Thread-safe. Every fork happens on one long-lived spawner thread (see `SpawnerThread`),
/// every exit is collected by one reaper thread. Only processes this supervisor started, and
/// orphans it adopted, are ever signalled; always by process group, never by name.
public final class Supervisor: Sendable {
    let spawner: SpawnerThread
    let reaper: Reaper

    struct State {
        fileprivate var latestByName: [String: ManagedProcess] = [:]
        fileprivate var startingNames = Set<String>()
        var isShutDown = false
        var adopted: [pid_t: AdoptedOrphan] = [:]
        var adoptionEnabled = false
        fileprivate var exitHandlers: [@Sendable (ExitEvent) -> Void] = []
        fileprivate var exitStreams: [UUID: AsyncStream<ExitEvent>.Continuation] = [:]
    }

    let state = Mutex(State())

    /// Creates a supervisor and its spawner and reaper threads.
    public init() {
        spawner = SpawnerThread(name: "ProcessSupervisor.spawner")
        reaper = Reaper(name: "ProcessSupervisor.reaper")
    }

    deinit {
        // Only reached once no child is alive: a running ManagedProcess retains its supervisor.
        spawner.stop()
        reaper.stop()
    }

    // MARK: Spawning

    /// Starts `spec`; returns once the child has exec'd, or throws why it could not.
    /// Blocks the caller for the fork and exec (milliseconds).
    public func spawn(_ spec: ProcessSpec) throws -> ManagedProcess {
        try validate(spec)
        try reserveName(spec.name)
        defer { state.withLock { _ = $0.startingNames.remove(spec.name) } }

        let searchPath = spec.environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"]
        let executablePath = try ExecutableResolver.resolve(spec.executable, path: searchPath)
        let logFD = try LogFile.openForAppending(spec.logFile)
        defer { close(logFD) } // the child has its own copy on stdout/stderr

        let (pid, spawnedAt) = try spawner.perform {
            (try ChildLauncher.launch(spec, executablePath: executablePath, logFD: logFD), ContinuousClock.now)
        }
        let process = ManagedProcess(spec: spec, pid: pid, spawnedAt: spawnedAt, supervisor: self)
        state.withLock { $0.latestByName[spec.name] = process }
        reaper.watch(process)
        return process
    }

    /// The latest incarnation started under `name`, alive or not.
    public func process(named name: String) -> ManagedProcess? {
        state.withLock { $0.latestByName[name] }
    }

    /// The latest incarnation of every name, sorted by name.
    public var processes: [ManagedProcess] {
        state.withLock { $0.latestByName.values.sorted { $0.name < $1.name } }
    }

    private func validate(_ spec: ProcessSpec) throws {
        func invalid(_ reason: String) -> SupervisorError { .invalidSpec(name: spec.name, reason: reason) }
        if spec.name.isEmpty { throw invalid("the name is empty") }
        if spec.executable.isEmpty { throw invalid("the executable is empty") }
        if spec.logFile.isEmpty { throw invalid("the log file path is empty") }
        let strings = [spec.executable, spec.logFile] + spec.arguments + (spec.workingDirectory.map { [$0] } ?? [])
            + spec.environment.flatMap { [$0.key, $0.value] }
        if strings.contains(where: { $0.utf8.contains(0) }) { throw invalid("a string contains a NUL byte") }
        if spec.environment.keys.contains(where: { $0.isEmpty || $0.contains("=") }) {
            throw invalid("an environment variable name is empty or contains '='")
        }
    }

    private func reserveName(_ name: String) throws {
        try state.withLock { s in
            if s.isShutDown { throw SupervisorError.shutDown }
            if s.startingNames.contains(name) || s.latestByName[name]?.isAlive == true {
                throw SupervisorError.nameInUse(name: name)
            }
            s.startingNames.insert(name)
        }
    }

    // MARK: Exit events

    /// Calls `handler` for every reaped managed process, on the reaper thread: keep it short.
    public func onExit(_ handler: @escaping @Sendable (ExitEvent) -> Void) {
        state.withLock { $0.exitHandlers.append(handler) }
    }

    /// A stream of every exit from now on; each call returns an independent stream.
    public func exitEvents() -> AsyncStream<ExitEvent> {
        let id = UUID()
        let (stream, continuation) = AsyncStream<ExitEvent>.makeStream()
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.exitStreams.removeValue(forKey: id) }
        }
        state.withLock { $0.exitStreams[id] = continuation }
        return stream
    }

    /// Called by a ManagedProcess right after the reaper collected it.
    func didReap(_ process: ManagedProcess, status: ExitStatus, at exitedAt: ContinuousClock.Instant) {
        let event = ExitEvent(name: process.name, pid: process.pid, status: status,
                              spawnedAt: process.spawnedAt, exitedAt: exitedAt)
        let (handlers, streams) = state.withLock { ($0.exitHandlers, Array($0.exitStreams.values)) }
        handlers.forEach { $0(event) }
        streams.forEach { $0.yield(event) }
    }

    /// Managed processes that have not been reaped yet.
    var liveProcesses: [ManagedProcess] {
        state.withLock { $0.latestByName.values.filter(\.isAlive) }
    }
}
