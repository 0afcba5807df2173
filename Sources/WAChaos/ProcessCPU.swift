import Foundation

/// CPU time the kernel charged to processes, read from `/proc`: where a benchmark's cycles
/// go, per node, without a profiler. A process's figure includes its live descendants (the
/// PostgreSQL server's backends are children of the postmaster).
enum ProcessCPU {
    /// Seconds of user + system time of each of `pids` with its live descendants, from one
    /// read of `/proc`; a pid that is gone is left out.
    static func seconds(of pids: [Int32]) -> [Int32: Double] {
        let table = processTable()
        var children: [Int32: [Int32]] = [:]
        for (pid, entry) in table { children[entry.parent, default: []].append(pid) }
        var out: [Int32: Double] = [:]
        for pid in pids where table[pid] != nil {
            var total = 0.0
            var stack = [pid]
            while let p = stack.popLast() {
                total += table[p]?.cpu ?? 0
                stack.append(contentsOf: children[p] ?? [])
            }
            out[pid] = total
        }
        return out
    }

    /// User + system seconds of this process (all its threads), from `getrusage`.
    static func ownSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return s(usage.ru_utime) + s(usage.ru_stime)
    }

    private static func processTable() -> [Int32: (parent: Int32, cpu: Double)] {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var table: [Int32: (parent: Int32, cpu: Double)] = [:]
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return table }
        for name in entries {
            guard let pid = Int32(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // After "pid (comm)": state ppid … utime stime are fields 3, 4 … 14, 15 of the line.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 12, let parent = Int32(fields[1]), let user = Double(fields[11]), let system = Double(fields[12]) else { continue }
            table[pid] = (parent, (user + system) / ticks)
        }
        return table
    }
}

/// CPU seconds per node between two samples, and per accepted message.
struct CPUProfile: Sendable {
    var secondsByNode: [String: Double]
    var wallSeconds: Double

    static func sample(_ pids: [String: Int32]) -> [String: Double] {
        let byPid = ProcessCPU.seconds(of: Array(pids.values))
        var out = pids.compactMapValues { byPid[$0] }
        out[CPUProfile.runnerName] = ProcessCPU.ownSeconds()
        return out
    }

    /// The bench's own process: the load generator and the webhook receiver.
    static let runnerName = "wachaos (load + webhook)"

    init(from start: [String: Double], to end: [String: Double], wallSeconds: Double) {
        var d: [String: Double] = [:]
        for (name, s) in end { if let s0 = start[name] { d[name] = max(0, s - s0) } }
        secondsByNode = d
        self.wallSeconds = wallSeconds
    }

    /// Microseconds per unit, per node.
    func perUnit(_ units: Int) -> [String: Double] {
        guard units > 0 else { return [:] }
        return secondsByNode.mapValues { $0 / Double(units) * 1e6 }
    }

    var totalSeconds: Double { secondsByNode.values.reduce(0, +) }

    /// "waweb 41 µs (22 %), …" per unit of work, biggest first.
    func perUnitDescription(units: Int, unitName: String) -> String {
        guard units > 0 else { return "no \(unitName)s" }
        let total = totalSeconds
        let parts = secondsByNode.sorted { $0.value > $1.value }.map { name, s in
            String(format: "%@ %.0f µs (%.0f %%)", name, s / Double(units) * 1e6, total > 0 ? s / total * 100 : 0)
        }
        return String(format: "%.0f µs CPU per %@ (%.2f of %.2f core-seconds available): ", total / Double(units) * 1e6, unitName,
                      total, wallSeconds * Double(ProcessInfo.processInfo.activeProcessorCount)) + parts.joined(separator: ", ")
    }
}
