import ArgumentParser
import ChaosScenario
import Foundation
import NetHosts
import WAChaos

/// `--net`: the spellings of `NetworkMode`.
extension NetworkMode: ExpressibleByArgument {}

/// Decides, before the runner starts anything, whether it runs on namespaces: re-executes it
/// inside its hub when it can, exits 2 when a scenario insists and it cannot, and otherwise
/// says why it stays on the proxy mesh.
enum NetSetup {
    static func prepare(requirement: NetRequirement) throws -> (NetnsHosts?, String?) {
        guard requirement != .none else { return (nil, nil) }
        do {
            if let hosts = try NetnsHub.joined() {
                print("wachaos: net netns: hub \(hosts.tag.hubNamespace) on \(HostAddressing.hub)/\(HostAddressing.prefixLength); kernel: \(hosts.fabric.features.summary)")
                return (hosts, nil)
            }
        } catch {
            FileHandle.standardError.write(Data("wachaos: \(error)\n".utf8))
            throw ExitCode(2)
        }
        let readiness = HostReadiness.probe()
        print("wachaos: \(readiness.report)")
        if readiness.canHostNamespaces {
            do { try NetnsHub.enterAndReexecute { print("wachaos: \($0)") } } catch {
                FileHandle.standardError.write(Data("wachaos: net netns: \(error)\n".utf8))
                if requirement == .required { throw ExitCode(2) }
                return (nil, "\(error)")
            }
        }
        let missing = (readiness.missingRequired.map(\.rawValue) + readiness.missingTools).joined(separator: ", ")
        if requirement == .required {
            FileHandle.standardError.write(Data("wachaos: --net netns needs \(missing), which this process lacks; run as root (or with those capabilities), or use --net auto to fall back to the proxy mesh\n".utf8))
            throw ExitCode(2)
        }
        print("wachaos: net auto: falling back to the proxy mesh (missing \(missing)); every link fault goes through the userspace proxies")
        return (nil, "missing \(missing)")
    }
}

/// `wachaos cleanup`: removes what earlier runs left (namespaces with their veths, rules and
/// qdiscs, and the processes still inside them).
struct Cleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove the network namespaces (and their interfaces, rules and processes) that earlier runs left behind.",
        discussion: "Only namespaces named after a run (wachaos-PID-TICKS-…) whose runner is no longer running are touched; a live run's are listed and kept.")
    @Flag(help: "List what would be removed, remove nothing.") var dryRun = false

    func run() throws {
        let all = NamespaceSweeper.runNamespaces()
        let stale = NamespaceSweeper.stale()
        for ns in all where !stale.contains(ns) { print("kept     \(ns) (its runner, pid \(RunTag.parse(namespace: ns)?.pid ?? 0), is running)") }
        guard !stale.isEmpty else { print("nothing to clean: no namespace of a finished run\(all.isEmpty ? "" : " (\(all.count) of running runs kept)")"); return }
        if dryRun { for ns in stale { print("would remove \(ns)") }; return }
        let outcome = NamespaceSweeper.remove(stale)
        for ns in outcome.removed { print("removed  \(ns)") }
        for line in outcome.notes { print("note     \(line)") }
        let left = Set(stale).subtracting(outcome.removed)
        if !left.isEmpty {
            print("could not remove: \(left.sorted().joined(separator: " ")) (run as root, or with CAP_SYS_ADMIN)")
            throw ExitCode(1)
        }
    }
}

/// The janitor a namespace run starts: it outlives the runner and removes the run's namespaces.
struct NetnsJanitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netns-janitor", abstract: "Internal: removes a run's namespaces once its runner has exited.", shouldDisplay: false)
    @Option(help: "The run's tag (wachaos-PID-TICKS).") var tag: String

    func run() throws {
        guard let parsed = RunTag.parse(namespace: tag + "-x") else { throw ValidationError("--tag: expected wachaos-PID-TICKS, got '\(tag)'") }
        let removed = NamespaceJanitor.run(tag: parsed)
        if !removed.isEmpty { FileHandle.standardError.write(Data("wachaos netns-janitor: the runner \(parsed.pid) is gone; removed \(removed.joined(separator: " "))\n".utf8)) }
    }
}
