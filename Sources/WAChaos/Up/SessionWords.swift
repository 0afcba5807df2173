import ChaosScenario
import Foundation

/// `wachaos fault …` and `wachaos workload …` words as the scenario step they mean, so a
/// session takes exactly the steps a scenario file can hold (and records them as such).
/// Shorthands: `owner:N` is `owner(shard: N)`, `primary` is `primary_master`.
public enum SessionWords {
    public static let usage = """
        kill|stop|restart|start|pause|resume NODE
        partition FROM TO [--one-way]          delay FROM TO MS [JITTER_MS]
        bandwidth FROM TO BYTES_PER_SECOND     reset FROM TO
        heal all | heal FROM TO                skew NODE BY_MS [DRIFT_PPM]
        gateway delay_acks|delay_statuses MS | drop_acks|drop_session [SHARD] | ban SECONDS | refuse_connections | heal
        shards N                               handover SHARD [TO]
        db-lock SECONDS                        workload RATE [SENDERS] | workload stop
        settings JSON                          step 'ANY SCENARIO STEP'
        NODE, FROM, TO: a name (wacore1), a role (primary_master, standby), owner:N, random(coreapp), db, gateway, all
        """

    /// The step text for `words`, or an error naming what is wrong.
    public static func step(_ words: [String]) throws -> String {
        guard let verb = words.first else { throw ControlError(.badRequest, "no fault given; expected one of:\n\(usage)") }
        var args = Array(words.dropFirst())
        let oneWay = args.contains("--one-way")
        args.removeAll { $0 == "--one-way" }
        if let flag = args.first(where: { $0.hasPrefix("--") }) { throw ControlError(.badRequest, "\(verb): unknown flag \(flag)") }
        func want(_ n: ClosedRange<Int>, _ shape: String) throws {
            guard n.contains(args.count) else { throw ControlError(.badRequest, "\(verb) expects \(shape), got \(args.isEmpty ? "nothing" : args.joined(separator: " "))") }
        }
        func integer(_ i: Int, _ what: String) throws -> Int {
            guard let n = Int(args[i]) else { throw ControlError(.badRequest, "\(verb): \(what) must be a whole number, got \(args[i])") }
            return n
        }
        func number(_ i: Int, _ what: String) throws -> String {
            guard Double(args[i]) != nil else { throw ControlError(.badRequest, "\(verb): \(what) must be a number, got \(args[i])") }
            return args[i]
        }
        func link() -> String { "from: \(quote(selector(args[0]))), to: \(quote(selector(args[1])))" }
        if oneWay, verb != "partition" { throw ControlError(.badRequest, "--one-way is for partition only") }
        switch verb {
        case "kill", "stop", "restart", "start", "pause", "resume":
            try want(1...1, "one NODE")
            return "\(verb): \(quote(selector(args[0])))"
        case "partition":
            try want(2...2, "FROM TO")
            return "partition: {\(link())\(oneWay ? ", direction: one_way" : "")}"
        case "delay":
            try want(3...4, "FROM TO MS [JITTER_MS]")
            return "delay: {\(link()), ms: \(try integer(2, "MS"))\(args.count == 4 ? ", jitter_ms: \(try integer(3, "JITTER_MS"))" : "")}"
        case "bandwidth":
            try want(3...3, "FROM TO BYTES_PER_SECOND")
            return "bandwidth: {\(link()), bytes_per_second: \(try integer(2, "BYTES_PER_SECOND"))}"
        case "reset":
            try want(2...2, "FROM TO")
            return "reset: {\(link())}"
        case "heal":
            if args == ["all"] { return "heal: all" }
            try want(2...2, "all, or FROM TO")
            return "heal: {\(link())}"
        case "skew":
            try want(2...3, "NODE BY_MS [DRIFT_PPM]")
            return "skew: {node: \(quote(selector(args[0]))), by: \(try integer(1, "BY_MS"))\(args.count == 3 ? ", drift_ppm: \(try integer(2, "DRIFT_PPM"))" : "")}"
        case "gateway":
            try want(1...2, "a gateway fault")
            switch args[0] {
            case "delay_acks", "delay_statuses":
                try want(2...2, "\(args[0]) MS")
                return "gateway: {fault: \(args[0]), ms: \(try integer(1, "MS"))}"
            case "drop_acks", "drop_session":
                return "gateway: {fault: \(args[0])\(args.count == 2 ? ", shard: \(try integer(1, "SHARD"))" : "")}"
            case "ban":
                try want(2...2, "ban SECONDS")
                return "gateway: {fault: ban, seconds: \(try integer(1, "SECONDS"))}"
            case "refuse_connections", "heal":
                try want(1...1, args[0])
                return "gateway: {fault: \(args[0])}"
            default:
                throw ControlError(.badRequest, "gateway: unknown fault \(args[0]); expected delay_acks, delay_statuses, drop_acks, drop_session, ban, refuse_connections or heal")
            }
        case "shards":
            try want(1...1, "N")
            return "set_shards: \(try integer(0, "N"))"
        case "handover":
            try want(1...2, "SHARD [TO]")
            return "handover: {shard: \(try integer(0, "SHARD"))\(args.count == 2 ? ", to: \(quote(selector(args[1])))" : "")}"
        case "db-lock", "db_lock":
            try want(1...1, "SECONDS")
            return "db_lock: {for: \(try number(0, "SECONDS"))}"
        case "workload":
            if args == ["stop"] { return "workload: stop" }
            try want(1...2, "RATE [SENDERS], or stop")
            return "workload: {messages_per_second: \(try number(0, "RATE"))\(args.count == 2 ? ", senders: \(try integer(1, "SENDERS"))" : "")}"
        case "settings":
            try want(1...1, "one JSON object, e.g. '{\"heartbeat_interval\": 10}'")
            return "settings: \(args[0])"
        case "step":
            try want(1...1, "one step in quotes, e.g. 'expect_failover: {shard: 0, bound: heartbeat}'")
            return args[0]
        default:
            throw ControlError(.badRequest, "unknown fault \"\(verb)\"; expected one of:\n\(usage)")
        }
    }

    /// `owner:0` → `owner(shard: 0)`, `primary` → `primary_master`; anything else as given.
    public static func selector(_ word: String) -> String {
        if word.hasPrefix("owner:"), let n = Int(word.dropFirst(6)) { return "owner(shard: \(n))" }
        if word == "primary" { return "primary_master" }
        return word
    }

    static func quote(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" }
}
