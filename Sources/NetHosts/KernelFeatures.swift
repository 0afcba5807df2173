import Foundation

/// What this kernel can do inside a namespace, found at start by trying each feature once in a
/// throwaway namespace of the run (module lists lie: a feature may be built in, or blocked).
public struct KernelFeatures: Sendable, Equatable, Codable {
    public var nftables = false
    public var numgen = false
    public var reject = false
    public var nat = false
    public var htb = false
    public var tbf = false
    public var u32 = false
    public var netem = false

    public init() {}

    /// Everything a run on this machine kind offers (netem aside): for tests of the pure layer.
    public static let typical: KernelFeatures = {
        var f = KernelFeatures()
        f.nftables = true; f.numgen = true; f.reject = true; f.nat = true; f.htb = true; f.tbf = true; f.u32 = true
        return f
    }()

    /// A step kind the kernel rules carry out, for `missing(for:)`.
    public enum Need: String, Sendable {
        case partition, reject, loss, bandwidth, delayRedirect, duplicate, corrupt
    }

    /// One line naming the missing module when the kernel cannot carry out `need`; nil when it can.
    public func missing(for need: Need) -> String? {
        func line(_ what: String, _ modules: [(Bool, String)]) -> String? {
            let absent = modules.filter { !$0.0 }.map(\.1)
            return absent.isEmpty ? nil : "\(what) needs the kernel module\(absent.count > 1 ? "s" : "") \(absent.joined(separator: ", ")), which this kernel lacks"
        }
        switch need {
        case .partition: return line("partition", [(nftables, "nf_tables (CONFIG_NF_TABLES)")])
        case .reject: return line("partition with mode: reject", [(nftables, "nf_tables (CONFIG_NF_TABLES)"), (reject, "nft_reject_inet (CONFIG_NFT_REJECT_INET)")])
        case .loss: return line("loss", [(nftables, "nf_tables (CONFIG_NF_TABLES)"), (numgen, "nft_numgen (CONFIG_NFT_NUMGEN)")])
        case .bandwidth: return line("bandwidth", [(htb, "sch_htb (CONFIG_NET_SCH_HTB)"), (tbf, "sch_tbf (CONFIG_NET_SCH_TBF)"), (u32, "cls_u32 (CONFIG_NET_CLS_U32)")])
        case .delayRedirect: return line("delay through the proxy", [(nftables, "nf_tables (CONFIG_NF_TABLES)"), (nat, "nft_nat (CONFIG_NFT_NAT)")])
        case .duplicate: return line("duplicate", [(netem, "sch_netem (CONFIG_NET_SCH_NETEM)"), (htb, "sch_htb (CONFIG_NET_SCH_HTB)"), (u32, "cls_u32 (CONFIG_NET_CLS_U32)")])
        case .corrupt: return line("corrupt", [(netem, "sch_netem (CONFIG_NET_SCH_NETEM)"), (htb, "sch_htb (CONFIG_NET_SCH_HTB)"), (u32, "cls_u32 (CONFIG_NET_CLS_U32)")])
        }
    }

    /// Kernel delay is netem's; without it a delay goes through a userspace proxy on the hub.
    public var kernelDelay: Bool { netem }

    public var summary: String {
        let all: [(String, Bool)] = [("nftables", nftables), ("numgen", numgen), ("reject", reject), ("nat", nat),
                                     ("htb", htb), ("tbf", tbf), ("u32", u32), ("netem", netem)]
        return all.map { "\($0.0) \($0.1 ? "yes" : "no")" }.joined(separator: ", ")
    }

    /// Tries every feature in a namespace of its own (`TAG-probe`), removed before it returns.
    public static func probe(tag: RunTag) throws -> KernelFeatures {
        let ns = "\(tag)-probe"
        _ = try? HostCommand.outcome(["ip", "netns", "del", ns])
        try HostCommand.run(["ip", "netns", "add", ns])
        defer { _ = try? HostCommand.outcome(["ip", "netns", "del", ns]) }
        try HostCommand.run(["ip", "-n", ns, "link", "set", "lo", "up"])
        func works(_ argv: [String], input: String? = nil) -> Bool {
            (try? HostCommand.outcome(["ip", "netns", "exec", ns] + argv, input: input))?.status == 0
        }
        func nft(_ rule: String, chain: String = "type filter hook output priority 0;") -> Bool {
            works(["nft", "-f", "-"], input: "table inet probe {\n chain c {\n  \(chain)\n  \(rule)\n }\n}\ndelete table inet probe\n")
        }
        var f = KernelFeatures()
        f.nftables = nft("ip daddr 198.18.255.254 drop")
        if f.nftables {
            f.numgen = nft("ip daddr 198.18.255.254 numgen random mod 100 < 5 drop")
            f.reject = nft("ip daddr 198.18.255.254 meta l4proto tcp reject with tcp reset")
            f.nat = nft("ip daddr 198.18.255.254 tcp dport 1 dnat ip to 198.18.255.253:2", chain: "type nat hook output priority -100;")
        }
        f.tbf = works(["tc", "qdisc", "add", "dev", "lo", "root", "tbf", "rate", "1mbit", "burst", "3028", "latency", "1s"])
        _ = works(["tc", "qdisc", "del", "dev", "lo", "root"])
        f.netem = works(["tc", "qdisc", "add", "dev", "lo", "root", "netem", "duplicate", "1%"])
        _ = works(["tc", "qdisc", "del", "dev", "lo", "root"])
        f.htb = works(["tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "1"])
        if f.htb {
            f.u32 = works(["tc", "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                           "match", "ip", "dst", "198.18.255.254/32", "flowid", "1:1"])
        }
        _ = works(["tc", "qdisc", "del", "dev", "lo", "root"])
        return f
    }
}
