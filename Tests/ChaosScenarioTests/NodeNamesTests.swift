import Testing
import WACore
@testable import ChaosScenario

@Test func namesFollowTheTopology() {
    let single = Topology(db: .sqlite, webapps: 1, masters: 2, coreapps: 2, standbyCoreapps: 1)
    #expect(nodeNames(of: single) == ["waweb", "master1", "master2", "wacore1", "wacore2", "wacore3", "db", "gateway"])
    #expect(bootNodeNames(of: single) == ["waweb", "master1", "master2", "wacore1", "wacore2", "db", "gateway"])
    #expect(standbyCoreappNames(of: single) == ["wacore3"])
    #expect(bootCoreappNames(of: single) == ["wacore1", "wacore2"])

    let several = Topology(db: .pgsql, webapps: 2, masters: 1, coreapps: 1)
    #expect(nodeNames(of: several) == ["waweb1", "waweb2", "master1", "wacore1", "db", "gateway"])
    #expect(webappNames(of: several) == ["waweb1", "waweb2"])
    #expect(masterNames(of: several) == ["master1"])
    #expect(coreappNames(of: several) == ["wacore1"])
    #expect(standbyCoreappNames(of: several).isEmpty)
}

@Test func rolesOfNamedNodes() {
    let topology = Topology(db: .pgsql, webapps: 1, masters: 2, coreapps: 2, standbyCoreapps: 1)
    #expect(nodeRole(named: "waweb", in: topology) == .webapp)
    #expect(nodeRole(named: "master2", in: topology) == .master)
    #expect(nodeRole(named: "wacore3", in: topology) == .coreapp)
    #expect(nodeRole(named: "db", in: topology) == .db)
    #expect(nodeRole(named: "gateway", in: topology) == .gateway)
    #expect(nodeRole(named: "wacore4", in: topology) == nil)
    // The embedded engine's database is a node too (`wacluster db`).
    #expect(nodeRole(named: "db", in: Topology(db: .sqlite, masters: 1, coreapps: 1)) == .db)
}

@Test func degenerateCountsYieldNoNamesInsteadOfCrashing() {
    let empty = Topology(db: .sqlite, webapps: 0, masters: 0, coreapps: 0)
    #expect(nodeNames(of: empty) == ["db", "gateway"])
}

@Test func naturalOrderPutsWacore2BeforeWacore10() {
    let names = ["wacore10", "master1", "wacore2", "waweb", "wacore1", "gateway", "db"]
    #expect(names.sorted(by: ClusterNodeNames.naturallyPrecedes) == ["db", "gateway", "master1", "wacore1", "wacore2", "wacore10",
                                                      "waweb"])
}

@Test func theRunnerOrdersNodesAsTheMasterPromotesThem() {
    // One natural order for the product's promotion and the runner's "lowest-named".
    #expect(ClusterNodeNames.naturallyPrecedes("wacore9", "wacore10"))
    #expect(!ClusterNodeNames.naturallyPrecedes("wacore10", "wacore9"))
    #expect(ClusterNodeNames.naturallyPrecedes("wacore", "wacore1"))
    #expect(ClusterNodeNames.naturallyPrecedes("host2-b", "host10-a"))
}
