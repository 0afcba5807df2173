/// A rule one host's namespace carries for traffic it sends to a peer address. Every rule acts
/// on the sender's side (its output hook or its egress qdisc), so a one-way fault is one rule
/// in one namespace and a two-way fault is one in each.
public enum KernelRule: Hashable, Sendable, CustomStringConvertible {
    /// Packets to `to` vanish: the peer sees silence (a SYN never answered, data never acked).
    case drop(to: String)
    /// Packets to `to` are refused at once: TCP gets a reset, anything else an ICMP port-unreachable.
    case reject(to: String)
    /// A random `percent` of the packets to `to` vanish (nftables `numgen random`).
    case loss(to: String, percent: Int)
    /// New TCP connections to `to:port` go to `via:viaPort` instead (a delay proxy on the hub).
    case redirect(to: String, port: Int, via: String, viaPort: Int)
    /// Traffic to `to` is paced to `bytesPerSecond` (tc: an htb class per peer, a tbf leaf).
    case shape(to: String, bytesPerSecond: Int)
    /// A share of the packets to `to` duplicated or corrupted (tc netem leaf; kernels with sch_netem only).
    case netem(to: String, kind: PacketFaultKind, percent: Int)

    public var description: String {
        switch self {
        case .drop(let to): "drop -> \(to)"
        case .reject(let to): "reject -> \(to)"
        case .loss(let to, let p): "loss \(p)% -> \(to)"
        case .redirect(let to, let port, let via, let viaPort): "redirect \(to):\(port) via \(via):\(viaPort)"
        case .shape(let to, let bps): "bandwidth \(bps) B/s -> \(to)"
        case .netem(let to, let kind, let p): "\(kind.rawValue) \(p)% -> \(to)"
        }
    }

    var isTrafficControl: Bool {
        switch self { case .shape, .netem: true; default: false }
    }
}

/// Packet faults the kernel can carry out on some machines only (netem).
public enum PacketFaultKind: String, Hashable, Sendable, CaseIterable {
    case duplicate
    case corrupt
}

/// nftables: one table per run in a host's namespace, rewritten whole in one transaction, so a
/// heal leaves exactly what was there before the fault (no table at all when no rule is left).
public enum NFTablesScript {
    /// The script `nft -f -` runs for `rules` (empty: the table is removed).
    public static func render(table: String, rules: [KernelRule]) -> String {
        var filter: [String] = []
        var nat: [String] = []
        for rule in rules {
            switch rule {
            case .drop(let to):
                filter.append("ip daddr \(to) drop")
                // A connection a delay proxy carries is addressed to the hub after the redirect;
                // conntrack still knows where it was going. Original direction only: a reset the
                // kernel sends this host on the peer's behalf belongs to the same connection.
                filter.append("ct direction original ct original ip daddr \(to) drop")
            case .reject(let to):
                filter.append("ip daddr \(to) meta l4proto tcp reject with tcp reset")
                filter.append("ip daddr \(to) reject")
                filter.append("ct direction original ct original ip daddr \(to) meta l4proto tcp reject with tcp reset")
            case .loss(let to, let percent):
                // numgen counts 0...99: a whole loss is a drop.
                let share = percent >= 100 ? "" : "numgen random mod 100 < \(percent) "
                filter.append("ip daddr \(to) \(share)drop")
                filter.append("ct direction original ct original ip daddr \(to) \(share)drop")
            case .redirect(let to, let port, let via, let viaPort):
                nat.append("ip daddr \(to) tcp dport \(port) dnat ip to \(via):\(viaPort)")
            case .shape, .netem:
                break
            }
        }
        var out = "add table inet \(table)\ndelete table inet \(table)\n"
        guard !filter.isEmpty || !nat.isEmpty else { return out }
        out += "table inet \(table) {\n"
        if !filter.isEmpty {
            out += "  chain links_out {\n    type filter hook output priority 0; policy accept;\n"
            out += filter.map { "    \($0)\n" }.joined()
            out += "  }\n"
        }
        if !nat.isEmpty {
            out += "  chain links_nat {\n    type nat hook output priority -100; policy accept;\n"
            out += nat.map { "    \($0)\n" }.joined()
            out += "  }\n"
        }
        out += "}\n"
        return out
    }
}

/// tc on a host's veth: nothing at all without a shaping fault (the veth's default, noqueue);
/// with some, an htb root whose default class is unshaped and one class per shaped peer,
/// chosen by a u32 match on the destination, with a tbf (or netem) leaf doing the work.
public enum TrafficControlPlan {
    /// The commands (argv after `tc`) that take `device` from any state to `rules`' shaping.
    /// The first removes the root qdisc; its failure (none there) is expected and ignored.
    public static func commands(device: String, rules: [KernelRule]) -> [[String]] {
        var out: [[String]] = [["qdisc", "del", "dev", device, "root"]]
        let shaped = rules.filter(\.isTrafficControl)
        guard !shaped.isEmpty else { return out }
        out.append(["qdisc", "add", "dev", device, "root", "handle", "1:", "htb", "default", "1"])
        out.append(["class", "add", "dev", device, "parent", "1:", "classid", "1:1", "htb", "rate", "10gbit"])
        for (i, rule) in shaped.enumerated() {
            let id = 10 + i
            let to: String
            let leaf: [String]
            switch rule {
            case .shape(let t, let bps):
                to = t
                let bits = max(8, bps * 8)
                // burst: at least one full frame and a tenth of a second of the rate; the queue
                // holds ten seconds of it, so a slow link delays rather than drops.
                let burst = max(3028, bps / 10)
                leaf = ["tbf", "rate", "\(bits)bit", "burst", "\(burst)", "latency", "10s"]
            case .netem(let t, let kind, let percent):
                to = t
                leaf = ["netem", kind.rawValue, "\(percent)%"]
            default:
                continue
            }
            out.append(["class", "add", "dev", device, "parent", "1:", "classid", "1:\(id)", "htb", "rate", "10gbit"])
            out.append(["qdisc", "add", "dev", device, "parent", "1:\(id)", "handle", "\(id):"] + leaf)
            out.append(["filter", "add", "dev", device, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                        "match", "ip", "dst", "\(to)/32", "flowid", "1:\(id)"])
        }
        return out
    }
}
