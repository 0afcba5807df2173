import ChaosCheckers
import Foundation
import WACore
import WATestKit

/// A self-contained HTML page per scenario: each node's role over time, gateway connections,
/// faults and heals, and each shard's availability as the workload's client saw it.
struct HTMLTimeline {
    struct Segment { var from: Double; var to: Double; var label: String; var color: String }
    struct Row { var title: String; var segments: [Segment] }

    let scenario: String
    let start: Double
    let end: Double
    let scale: Double

    static let palette = ["#2b8a3e", "#1971c2", "#e8590c", "#9c36b5", "#0c8599", "#c2255c", "#5c940d", "#364fc7"]

    /// Rows from node events: masters (primary/secondary), coreapps (owner of shard N / standby)
    /// and their gateway connections.
    static func rows(cluster: LocalCluster, deaths: [String: [Double]], end: Double) -> [Row] {
        var rows: [Row] = []
        let names = cluster.layout.masterNames + cluster.layout.coreappNames
        for name in names {
            var segments: [Segment] = []
            var current: (from: Double, label: String, color: String)?
            var connectedSince: Double?
            var connections: [Segment] = []
            let events = cluster.events(name)
            func close(_ t: Double) { if let c = current { segments.append(Segment(from: c.from, to: t, label: c.label, color: c.color)) }; current = nil }
            for e in events {
                if let d = deaths[name]?.first(where: { $0 <= e.ts && $0 >= (current?.from ?? .infinity) }) { close(d) }
                switch e.typed {
                case .becamePrimaryMaster: close(e.ts); current = (e.ts, "primary", "#2b8a3e")
                case .becameSecondaryMaster: close(e.ts); current = (e.ts, "secondary", "#adb5bd")
                case .becameOwner(let shard, _): close(e.ts); current = (e.ts, "shard \(shard)", palette[shard % palette.count])
                case .becameStandby: close(e.ts); current = (e.ts, "standby", "#ced4da")
                case .gatewayConnected: connectedSince = e.ts
                case .gatewayDisconnected:
                    if let s = connectedSince { connections.append(Segment(from: s, to: e.ts, label: "gateway", color: "#212529")) }
                    connectedSince = nil
                default: break
                }
            }
            let death = deaths[name]?.last ?? end
            close(min(end, max(death, current?.from ?? end)))
            if let s = connectedSince { connections.append(Segment(from: s, to: min(end, death), label: "gateway", color: "#212529")) }
            rows.append(Row(title: name, segments: segments))
            rows.append(Row(title: "\(name) ⇄ gateway", segments: connections))
        }
        return rows
    }

    enum ProcessState { case running, paused, down }

    /// A lane for a process that logs no roles (the database): serving, paused or down.
    static func processRow(title: String, changes: [(at: Double, state: ProcessState)], end: Double) -> Row {
        var segments: [Segment] = []
        for (i, c) in changes.enumerated() where c.state != .down {
            let to = i + 1 < changes.count ? changes[i + 1].at : end
            segments.append(Segment(from: c.at, to: to, label: c.state == .running ? "serving" : "paused",
                                    color: c.state == .running ? "#495057" : "#f08c00"))
        }
        return Row(title: title, segments: segments)
    }

    /// Availability per shard from the history's sends (the shard each was routed to when it
    /// went out), in buckets of `bucket` seconds.
    static func availability(_ sends: [Send], bucket: Double) -> [Row] {
        let shards = Set(sends.compactMap(\.shard)).sorted()
        return shards.map { shard in
            var buckets: [Int: (ok: Int, bad: Int)] = [:]
            for s in sends where s.shard == shard {
                let k = Int((s.end / bucket).rounded(.down))
                var b = buckets[k] ?? (0, 0)
                if s.outcome == .ok { b.ok += 1 } else { b.bad += 1 }
                buckets[k] = b
            }
            let segments = buckets.keys.sorted().map { k -> Segment in
                let b = buckets[k]!
                let color = b.bad == 0 ? "#40c057" : (b.ok == 0 ? "#fa5252" : "#fab005")
                return Segment(from: Double(k) * bucket, to: Double(k + 1) * bucket, label: "\(b.ok) ok, \(b.bad) refused", color: color)
            }
            return Row(title: "shard \(shard) (client view)", segments: segments)
        }
    }

    func html(rows: [Row], markers: [(at: Double, label: String, kind: String)], run: RunRecord? = nil, checks: [CheckResult] = []) -> String {
        let width = 1100.0, left = 220.0, rowHeight = 22.0
        let span = max(0.001, end - start)
        func x(_ t: Double) -> Double { left + (min(max(t, start), end) - start) / span * (width - left - 10) }
        let height = Double(rows.count) * rowHeight + 70
        var svg = "<svg xmlns='http://www.w3.org/2000/svg' width='\(Int(width))' height='\(Int(height))' font-family='sans-serif' font-size='11'>"
        for (i, m) in markers.enumerated() {
            let color = m.kind == "fault" ? "#fa5252" : "#228be6"
            svg += "<line x1='\(x(m.at))' x2='\(x(m.at))' y1='20' y2='\(height - 30)' stroke='\(color)' stroke-dasharray='3,2'><title>\(escape(m.label))</title></line>"
            svg += "<text x='\(x(m.at) + 2)' y='\(12 + Double(i % 2) * 10)' fill='\(color)'>\(escape(String(m.label.prefix(28))))</text>"
        }
        for (i, row) in rows.enumerated() {
            let y = 30 + Double(i) * rowHeight
            svg += "<text x='4' y='\(y + 14)'>\(escape(row.title))</text>"
            for s in row.segments where s.to > s.from {
                let w = max(1, x(s.to) - x(s.from))
                svg += "<rect x='\(x(s.from))' y='\(y + 3)' width='\(w)' height='\(rowHeight - 6)' fill='\(s.color)'><title>\(escape(s.label)) \(String(format: "%.2f–%.2fs", s.from - start, s.to - start))</title></rect>"
                if w > 50 { svg += "<text x='\(x(s.from) + 3)' y='\(y + 15)' fill='white'>\(escape(s.label))</text>" }
            }
        }
        let ticks = 10
        for k in 0...ticks {
            let t = start + span * Double(k) / Double(ticks)
            svg += "<text x='\(x(t) - 10)' y='\(height - 12)' fill='#495057'>\(String(format: "%.1fs", t - start)) / \(String(format: "%.0f", (t - start) / scale))</text>"
        }
        svg += "</svg>"
        return """
        <!doctype html><html><head><meta charset="utf-8"><title>\(escape(scenario))</title></head>
        <body style="font-family:sans-serif"><h2>\(escape(scenario))</h2>
        <p>Time axis: real seconds / logical seconds (scale \(scale)). Red dashed lines are faults, blue are other steps;
        hover for details. Client view: green = every send accepted, amber = some refused, red = none accepted.</p>
        \(summary(checks))
        \(svg)
        \(run.map(latencyPlot) ?? "")
        \(checkTable(checks))</body></html>
        """
    }

    /// Sent / ok / fail / info / delivered / lost / duplicated / conflicts, from the checks' figures.
    func summary(_ checks: [CheckResult]) -> String {
        func figure(_ check: String, _ key: String) -> String { checks.figure(check, key, missing: "–") }
        let cells: [(String, String)] = [
            ("sent", figure("no accepted message lost", "sent")), ("ok", figure("no accepted message lost", "ok")),
            ("fail", figure("no accepted message lost", "fail")), ("info", figure("no accepted message lost", "info")),
            ("delivered", figure("statuses reach the webhook", "delivered")), ("lost", figure("no accepted message lost", "lost")),
            ("duplicated", figure("no duplicated message", "duplicated")), ("conflicts", figure("no gateway conflict", "conflicts")),
        ]
        return "<table id='summary' style='border-collapse:collapse;margin:8px 0'><tr>" + cells.map { "<th style='border:1px solid #ced4da;padding:3px 8px'>\($0.0)</th>" }.joined()
            + "</tr><tr>" + cells.map { "<td style='border:1px solid #ced4da;padding:3px 8px;text-align:right'>\($0.1)</td>" }.joined() + "</tr></table>"
    }

    func checkTable(_ checks: [CheckResult]) -> String {
        guard !checks.isEmpty else { return "" }
        let color = ["pass": "#2b8a3e", "fail": "#c92a2a", "unknown": "#e67700"]
        return "<h3>Checks</h3><table style='border-collapse:collapse'>" + checks.map { c in
            "<tr><td style='padding:2px 8px;color:\(color[c.verdict.rawValue]!);font-weight:bold'>\(c.verdict.rawValue.uppercased())</td><td style='padding:2px 8px'>\(escape(c.name))\(c.line.map { " (line \($0))" } ?? "")</td><td style='padding:2px 8px'>\(escape(c.reason))</td></tr>"
        }.joined() + "</table>"
    }

    /// Each send's latency over time (ok green, fail red, info amber), faults shaded.
    func latencyPlot(_ run: RunRecord) -> String {
        let sends = run.sends.filter { $0.completion != nil }
        guard !sends.isEmpty else { return "" }
        let width = 1100.0, left = 220.0, height = 220.0, top = 20.0, bottom = 30.0
        let span = max(0.001, end - start)
        func x(_ t: Double) -> Double { left + (min(max(t, start), end) - start) / span * (width - left - 10) }
        let latencies = sends.map { ($0.end - $0.invoke.ts) * 1000 }
        let maxMs = max(10, latencies.sorted()[Int(Double(latencies.count - 1) * 0.999)])
        func y(_ ms: Double) -> Double { top + (1 - min(ms, maxMs) / maxMs) * (height - top - bottom) }
        var svg = "<svg id='latency' xmlns='http://www.w3.org/2000/svg' width='\(Int(width))' height='\(Int(height))' font-family='sans-serif' font-size='11'>"
        for f in run.faults {
            let x0 = x(f.start), x1 = x(f.end ?? end)
            svg += "<rect x='\(x0)' y='\(top)' width='\(max(1, x1 - x0))' height='\(height - top - bottom)' fill='#fa5252' opacity='0.12'><title>fault \(f.id): \(escape(f.value))</title></rect>"
        }
        let colors: [HistoryOp.Kind: String] = [.ok: "#2b8a3e", .fail: "#e03131", .info: "#f08c00"]
        for (s, ms) in zip(sends, latencies) {
            svg += "<circle cx='\(x(s.invoke.ts))' cy='\(y(ms))' r='1.6' fill='\(colors[s.outcome] ?? "#000")'/>"
        }
        for k in 0...4 {
            let ms = maxMs * Double(k) / 4
            svg += "<text x='\(left - 50)' y='\(y(ms) + 4)' fill='#495057'>\(String(format: "%.0f ms", ms))</text>"
        }
        svg += "<text x='4' y='\(top + 14)'>send latency (client)</text>"
        svg += "<text x='4' y='\(top + 30)' fill='#2b8a3e'>● ok</text><text x='44' y='\(top + 30)' fill='#e03131'>● fail</text><text x='90' y='\(top + 30)' fill='#f08c00'>● info</text>"
        svg += "<text x='4' y='\(top + 46)' fill='#c92a2a'>shaded: faults</text>"
        return svg + "</svg>"
    }

    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "'", with: "&#39;")
    }
}
