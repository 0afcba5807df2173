import Testing
@testable import NetHosts

@Suite struct KernelRulesTests {
    @Test func noRuleRemovesTheTableAndNothingElse() {
        let script = NFTablesScript.render(table: "wachaos_1_2", rules: [])
        #expect(script == "add table inet wachaos_1_2\ndelete table inet wachaos_1_2\n")
    }

    @Test func everyRuleActsOnTheSendersOutputOnly() {
        let script = NFTablesScript.render(table: "t", rules: [
            .drop(to: "198.18.1.3"), .reject(to: "198.18.1.4"), .loss(to: "198.18.1.5", percent: 30),
            .redirect(to: "198.18.1.6", port: 4000, via: "198.18.0.1", viaPort: 5000), .shape(to: "198.18.1.7", bytesPerSecond: 1000),
        ])
        #expect(script.contains("type filter hook output priority 0; policy accept;"))
        #expect(script.contains("    ip daddr 198.18.1.3 drop\n    ct direction original ct original ip daddr 198.18.1.3 drop\n"))
        #expect(script.contains("ip daddr 198.18.1.4 meta l4proto tcp reject with tcp reset\n    ip daddr 198.18.1.4 reject\n"))
        #expect(script.contains("ip daddr 198.18.1.5 numgen random mod 100 < 30 drop"))
        #expect(NFTablesScript.render(table: "t", rules: [.loss(to: "198.18.1.5", percent: 100)]).contains("ip daddr 198.18.1.5 drop\n    ct direction original ct original ip daddr 198.18.1.5 drop\n"))
        #expect(script.contains("type nat hook output priority -100; policy accept;\n    ip daddr 198.18.1.6 tcp dport 4000 dnat ip to 198.18.0.1:5000\n"))
        // tc's business, not nftables'.
        #expect(!script.contains("198.18.1.7"))
        #expect(!script.contains("hook input"))
    }

    @Test func shapingIsAnHtbClassPerPeerWithATbfLeaf() {
        let plan = TrafficControlPlan.commands(device: "eth0", rules: [.drop(to: "198.18.1.9"), .shape(to: "198.18.1.3", bytesPerSecond: 100_000)])
        #expect(plan.first == ["qdisc", "del", "dev", "eth0", "root"])
        #expect(plan.contains(["qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb", "default", "1"]))
        #expect(plan.contains(["qdisc", "add", "dev", "eth0", "parent", "1:10", "handle", "10:", "tbf", "rate", "800000bit", "burst", "10000", "latency", "10s"]))
        #expect(plan.contains(["filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "dst", "198.18.1.3/32", "flowid", "1:10"]))
        // Without shaping, only the removal: the veth is back to its default qdisc.
        #expect(TrafficControlPlan.commands(device: "eth0", rules: [.drop(to: "198.18.1.9")]) == [["qdisc", "del", "dev", "eth0", "root"]])
    }

    @Test func aMissingModuleIsNamedInOneLine() {
        var f = KernelFeatures.typical
        #expect(f.missing(for: .partition) == nil)
        #expect(f.missing(for: .loss) == nil)
        #expect(f.missing(for: .duplicate) == "duplicate needs the kernel module sch_netem (CONFIG_NET_SCH_NETEM), which this kernel lacks")
        f.numgen = false
        #expect(f.missing(for: .loss) == "loss needs the kernel module nft_numgen (CONFIG_NFT_NUMGEN), which this kernel lacks")
        f.htb = false; f.u32 = false
        #expect(f.missing(for: .bandwidth) == "bandwidth needs the kernel modules sch_htb (CONFIG_NET_SCH_HTB), cls_u32 (CONFIG_NET_CLS_U32), which this kernel lacks")
    }
}

@Suite struct RunTagTests {
    @Test func namesCarryTheRunAndReadBack() throws {
        let tag = RunTag(pid: 4242, startTicks: 987654)
        #expect(tag.description == "wachaos-4242-987654")
        #expect(tag.hubNamespace == "wachaos-4242-987654-hub")
        #expect(tag.namespace(cluster: 3, host: "wacore1") == "wachaos-4242-987654-c3-wacore1")
        #expect(tag.tableName == "wachaos_4242_987654")
        #expect(RunTag.parse(namespace: "wachaos-4242-987654-c3-wacore1") == tag)
        #expect(RunTag.parse(namespace: "wachaos-x-1-hub") == nil)
        #expect(RunTag.parse(namespace: "other-4242-987654-hub") == nil)
    }

    @Test func aLiveOwnerIsThisProcessAndADeadOneIsNot() {
        #expect(RunTag.current().ownerIsAlive)
        var stale = RunTag.current()
        stale.startTicks += 1 // the same pid, started at another time: a reused pid
        #expect(!stale.ownerIsAlive)
    }

    @Test func addressesStayInTheBenchmarkingRangeAndNeverRepeatWithinARun() throws {
        #expect(try HostAddressing.address(cluster: 1, index: 0) == "198.18.1.2")
        #expect(try HostAddressing.address(cluster: 255, index: 3) == "198.18.255.5")
        #expect(try HostAddressing.address(cluster: 256, index: 0) == "198.19.0.2")
        #expect(try HostAddressing.address(cluster: 511, index: 249) == "198.19.255.251")
        #expect(throws: NetHostsError.self) { try HostAddressing.address(cluster: 1, index: 250) }
        let all = try (1...20).flatMap { c in try (0..<10).map { try HostAddressing.address(cluster: c, index: $0) } }
        #expect(Set(all).count == all.count)
        #expect(!all.contains(HostAddressing.hub))
    }
}

@Suite struct CapabilityReportTests {
    @Test func theReportNamesWhatIsMissingAndTheStepsItStops() {
        let r = HostReadiness(capabilities: CapabilitySet(effective: [.sysAdmin, .kill]), missingTools: ["nft"])
        #expect(!r.canHostNamespaces)
        #expect(r.missingRequired == [.netAdmin])
        #expect(r.report.contains("CAP_NET_ADMIN no"))
        #expect(r.report.contains("missing CAP_NET_ADMIN: needed for veth pairs"))
        #expect(r.report.contains("steps: every step (the hosts themselves), partition, loss, bandwidth, delay, reset"))
        #expect(r.report.contains("missing CAP_NET_RAW"))
        #expect(r.report.contains("missing tool nft: install nftables"))
        #expect(HostReadiness(capabilities: CapabilitySet(effective: Set(Capability.allCases)), missingTools: []).canHostNamespaces)
        // Not root: effective alone is lost when the runner execs ip, nft and tc.
        let granted = CapabilitySet(effective: Set(Capability.allCases), ambient: [.sysAdmin], isRoot: false)
        let r2 = HostReadiness(capabilities: granted, missingTools: [])
        #expect(!r2.canHostNamespaces)
        #expect(r2.missingRequired == [.netAdmin])
        #expect(r2.report.contains("CAP_NET_ADMIN is effective but not ambient"))
        #expect(HostReadiness(capabilities: CapabilitySet(effective: Set(Capability.allCases), ambient: [.netAdmin, .sysAdmin], isRoot: false),
                              missingTools: []).canHostNamespaces)
    }
}
