import Foundation

/// Opens a node's log for the child's stdout/stderr.
enum LogFile {
    /// O_APPEND so every incarnation adds to the same file and concurrent writers never
    /// overwrite each other; O_CLOEXEC so only the child it is meant for inherits it (via dup2).
    static func openForAppending(_ path: String) throws -> Int32 {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SupervisorError.logFileUnavailable(path: path, errno: errno) }
        return fd
    }
}
