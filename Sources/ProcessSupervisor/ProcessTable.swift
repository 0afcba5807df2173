import Foundation

/// Reads /proc: who is whose child, and in which state. Used to find adopted orphans.
enum ProcessTable {
    /// The fields of /proc/PID/stat the supervisor needs.
    struct Entry: Equatable {
        let pid: pid_t
        /// R, S, D, T (stopped), Z (zombie), ...
        let state: Character
        let parent: pid_t
        let group: pid_t
    }

    /// The entry for `pid`, or nil if no such process exists (any more).
    static func entry(of pid: pid_t) -> Entry? {
        guard let line = readSmallFile("/proc/\(pid)/stat") else { return nil }
        // "pid (comm) state ppid pgrp ...": comm may contain spaces and ')', so split after the last ')'.
        guard let closing = line.lastIndex(of: ")") else { return nil }
        let fields = line[line.index(after: closing)...].split(separator: " ")
        guard fields.count >= 3, let state = fields[0].first,
              let parent = pid_t(fields[1]), let group = pid_t(fields[2]) else { return nil }
        return Entry(pid: pid, state: state, parent: parent, group: group)
    }

    /// Every live or zombie process whose parent is `parent`.
    static func children(of parent: pid_t) -> [Entry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return names.compactMap { pid_t($0) }.compactMap { entry(of: $0) }.filter { $0.parent == parent }
    }

    /// /proc files report size 0, so read until EOF instead of trusting stat.
    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1024)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}
