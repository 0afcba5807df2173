import Foundation

/// A child the reaper watches: a managed process or an adopted orphan.
protocol ReapableChild: AnyObject, Sendable {
    var pid: pid_t { get }
    /// Reaps the child if it has exited and returns true once it is gone. Reaper thread only.
    func reapIfExited() -> Bool
}

/// Sends `signal` to process group `group`, refusing the groups no supervisor may touch.
func signalProcessGroup(_ group: pid_t, _ signal: Int32) -> Bool {
    // Never init's group, never "every process" (-1), never the runner's own group.
    guard group > 1, group != getpgrp() else { return false }
    return kill(-group, signal) == 0
}
