import CProcessShim
import Foundation

/// Finds and removes what runs left behind: namespaces named after a run whose runner is gone.
/// Interfaces, rules and qdiscs live only inside those namespaces, so removing the namespaces
/// removes them too; processes still inside are the run's own and are killed by pid first.
public enum NamespaceSweeper {
    public static let directory = "/run/netns"

    /// Every namespace named after some run (`wachaos-PID-TICKS-…`).
    public static func runNamespaces() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { RunTag.parse(namespace: $0) != nil }.sorted()
    }

    /// Namespaces of `tag`.
    public static func namespaces(of tag: RunTag) -> [String] {
        runNamespaces().filter { RunTag.parse(namespace: $0) == tag }
    }

    /// Namespaces whose runner is no longer running.
    public static func stale() -> [String] {
        runNamespaces().filter { RunTag.parse(namespace: $0).map { !$0.ownerIsAlive } ?? false }
    }

    /// What a removal did: the namespaces deleted, and a line for each that still had processes.
    public struct Outcome: Sendable {
        public var removed: [String] = []
        public var notes: [String] = []
    }

    /// Deletes each namespace's name. With `killing`, what still runs inside is SIGKILLed first,
    /// each pid checked to be in that namespace right before (the janitor: its own run's
    /// processes); without, processes inside are named and left alone: another runner started them.
    @discardableResult
    public static func remove(_ namespaces: [String], killing: Bool = false) -> Outcome {
        var out = Outcome()
        let me = getpid()
        for ns in namespaces {
            let inode = wa_network_namespace_inode("\(directory)/\(ns)")
            let pids = ((try? HostCommand.run(["ip", "netns", "pids", ns])) ?? "").split(whereSeparator: \.isNewline).compactMap { Int32($0) }.filter { $0 != me }
            if killing {
                for pid in pids where inode != 0 && wa_network_namespace_inode("/proc/\(pid)/ns/net") == inode { kill(pid, SIGKILL) }
            } else if !pids.isEmpty {
                out.notes.append("\(ns): \(pids.count) process(es) still inside (\(pids.map(String.init).joined(separator: " "))), not signalled: this runner did not start them")
            }
            if (try? HostCommand.outcome(["ip", "netns", "del", ns]))?.status == 0 { out.removed.append(ns) }
        }
        return out
    }

    /// What the janitor does when its runner is gone: every namespace of the run.
    @discardableResult
    public static func removeRun(_ tag: RunTag) -> [String] { remove(namespaces(of: tag), killing: true).removed }
}
