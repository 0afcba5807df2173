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

    /// Kills what still runs inside each namespace (never this process) and deletes it; returns
    /// the ones removed.
    @discardableResult
    public static func remove(_ namespaces: [String]) -> [String] {
        var removed: [String] = []
        let me = getpid()
        for ns in namespaces {
            if let pids = try? HostCommand.run(["ip", "netns", "pids", ns]) {
                for pid in pids.split(whereSeparator: \.isNewline).compactMap({ Int32($0) }) where pid != me { kill(pid, SIGKILL) }
            }
            if (try? HostCommand.outcome(["ip", "netns", "del", ns]))?.status == 0 { removed.append(ns) }
        }
        return removed
    }

    /// What the janitor does when its runner is gone: every namespace of the run.
    @discardableResult
    public static func removeRun(_ tag: RunTag) -> [String] { remove(namespaces(of: tag)) }
}
