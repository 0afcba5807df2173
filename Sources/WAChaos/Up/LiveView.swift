import Foundation

/// Draws a session's status: a screen redrawn in place on a terminal, or one line per change
/// when the output is a file or a pipe (CI logs, `tee`).
public enum LiveView {
    /// The whole screen, `width` columns wide and `height` rows high at most (the oldest events
    /// go first when it does not fit); `header` lines (where the API is, the tokens) on top.
    public static func screen(_ s: SessionStatus, width: Int = 120, height: Int = 1000, header: [String] = []) -> [String] {
        var lines: [String] = header
        lines.append("wachaos up · \(s.scenario) · db \(s.engine) · \(s.shards) shard\(s.shards == 1 ? "" : "s") · scale \(number(s.scale)) · seed \(s.seed) · up \(clock(s.uptime))"
                     + (s.interactive ? "" : " · replaying"))
        lines.append("workload: \(s.workload ?? "stopped")")
        lines.append("")
        let header = ["NODE", "ROLE", "PROCESS", "GATEWAY", "SHARD", "VERSION", "ERROR"]
        let rows = s.nodes.map { n in
            [n.name, n.role, n.process, n.gateway ?? "-", n.shard.map(String.init) ?? "-", n.version ?? "-", n.error ?? ""]
        }
        lines += table([header] + rows)
        lines.append("")
        if s.faults.isEmpty {
            lines.append("faults: none")
        } else {
            lines.append("faults:")
            for f in s.faults { lines.append("  #\(f.id) \(f.kind): \(f.detail) (at \(clock(f.since)))") }
        }
        lines.append("")
        lines.append("sends, last \(Int(s.window)) s:")
        if s.sends.isEmpty { lines.append("  none") }
        for x in s.sends {
            let total = x.accepted + x.refused
            let share = total == 0 ? "no sends" : String(format: "%3.0f%% accepted (%d of %d)", 100 * Double(x.accepted) / Double(total), x.accepted, total)
            lines.append("  shard \(x.shard) \(x.owner.map { "(\($0))" } ?? "(no owner)"): \(share)")
        }
        lines.append("")
        lines.append("last events:")
        let room = max(1, min(8, height - lines.count - 1))
        for e in s.events.suffix(room) { lines.append("  \(clock(e.at)) \(e.kind): \(e.detail)") }
        return lines.prefix(max(1, height - 1)).map { $0.count > width ? String($0.prefix(width - 1)) + "…" : $0 }
    }

    /// One line saying what the screen says, for output that is not a terminal; printed only
    /// when it differs from the previous one.
    public static func line(_ s: SessionStatus) -> String {
        let nodes = s.nodes.map { n -> String in
            var t = "\(n.name)=\(n.process == "running" ? n.role : n.process)"
            if let shard = n.shard { t += "/shard\(shard)" }
            if let g = n.gateway, n.role == "coreapp" || n.role.hasSuffix("master") { t += "/\(g)" }
            return t
        }.joined(separator: " ")
        let faults = s.faults.isEmpty ? "none" : s.faults.map { "#\($0.id) \($0.kind)" }.joined(separator: ", ")
        let sends = s.sends.map { x -> String in
            let total = x.accepted + x.refused
            return "\(x.shard):" + (total == 0 ? "-" : String(format: "%.0f%%", 100 * Double(x.accepted) / Double(total)))
        }.joined(separator: " ")
        return "nodes: \(nodes) | faults: \(faults) | sends: \(sends.isEmpty ? "-" : sends)"
    }

    /// The terminal's size, when stdout is one.
    public static func terminalSize() -> (width: Int, height: Int)? {
        var w = winsize()
        guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &w) == 0, w.ws_col > 0, w.ws_row > 0 else { return nil }
        return (Int(w.ws_col), Int(w.ws_row))
    }

    /// ANSI: home the cursor, draw, clear what is left of the old screen.
    public static func redraw(_ lines: [String]) -> String {
        "\u{1B}[H" + lines.map { $0 + "\u{1B}[K" }.joined(separator: "\n") + "\n\u{1B}[J"
    }

    static func table(_ rows: [[String]]) -> [String] {
        let widths = (0..<(rows.first?.count ?? 0)).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
    }

    static func clock(_ seconds: Double) -> String {
        let t = max(0, Int(seconds))
        return String(format: "%02d:%02d:%02d", t / 3600, t / 60 % 60, t % 60)
    }

    static func number(_ d: Double) -> String { d.rounded() == d ? String(Int(d)) : String(d) }
}
