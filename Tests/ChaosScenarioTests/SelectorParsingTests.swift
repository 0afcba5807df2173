import Testing
@testable import ChaosScenario

@Test("selectors parse whatever the spacing", arguments: [
    ("owner(shard: 0)", NodeSelector.owner(shard: 0)),
    ("owner(shard:0)", .owner(shard: 0)),
    ("  owner ( shard : 12 )  ", .owner(shard: 12)),
    ("owner(shard:0 )", .owner(shard: 0)),
    ("wacore2", .name("wacore2")),
    ("master1", .name("master1")),
    ("waweb", .name("waweb")),
    ("db", .name("db")),
    ("gateway", .name("gateway")),
    ("primary_master", .primaryMaster),
    ("secondary_master", .secondaryMaster),
    ("standby", .standby),
    ("coreapp", .anyOfRole(.coreapp)),
    ("master", .anyOfRole(.master)),
    ("webapp", .anyOfRole(.webapp)),
    ("any(standby)", .random(.standby)),
    ("random( standby )", .random(.standby)),
    ("random(owner(shard: 1))", .random(.owner(shard: 1))),
    ("$victim", .label("victim")),
])
func selectorParses(_ text: String, _ expected: NodeSelector) throws {
    #expect(try NodeSelector.parse(text) == expected)
}

@Test("malformed selectors say what was expected", arguments: [
    ("", "expected a node selector, got an empty string"),
    ("owner(0)", "expected owner(shard: N) with N a shard number (0, 1, ...), got \"owner(0)\""),
    ("owner(shard: -1)", "expected owner(shard: N) with N a shard number (0, 1, ...), got \"owner(shard: -1)\""),
    ("owner(shard: 0", "expected owner(shard: N) with N a shard number (0, 1, ...), got \"owner(shard: 0\""),
    ("owner", "owner needs a shard: owner(shard: N)"),
    ("random", "random needs a role: random(standby)"),
    ("random(random(standby))", "random(...) picks among the nodes of a role (standby, coreapp, master, webapp, "
        + "secondary_master, owner(shard: N)), got \"random(standby)\""),
    ("kill(wacore1)", "only owner(shard: N), any(ROLE) and random(ROLE) take arguments, got \"kill(...)\""),
    ("wacore1 wacore2", "unexpected \"wacore2\" after wacore1"),
    ("$", "expected a label after \"$\", got \"$\""),
    ("wa.core", "unexpected \".core\" after wa"),
])
func selectorSyntaxError(_ text: String, _ message: String) {
    #expect(throws: SelectorSyntaxError(message: message)) { try NodeSelector.parse(text) }
}

@Test func canonicalSpellingParsesBackToTheSameSelector() throws {
    let selectors: [NodeSelector] = [
        .name("wacore3"), .label("victim"), .primaryMaster, .secondaryMaster, .owner(shard: 7), .standby,
        .anyOfRole(.webapp), .random(.owner(shard: 2)), .random(.anyOfRole(.master)),
    ]
    for selector in selectors {
        #expect(try NodeSelector.parse(selector.description) == selector)
    }
    #expect(NodeSelector.random(.standby).description == "random(standby)")
    #expect(LinkSelector(from: .primaryMaster, to: .owner(shard: 0)).description == "primary_master -> owner(shard: 0)")
}

@Test func respacingOnlyTouchesShardSelectorsAndKeepsLengths() {
    let text = "kill: owner(shard: 0)\nto: random(owner( shard :  12 )), x: \"shard: 1\"\n"
    let respaced = respacingShardSelectors(text)
    #expect(respaced == "kill: owner(shard:0 )\nto: random(owner( shard :12   )), x: \"shard: 1\"\n")
    #expect(respaced.split(separator: "\n").map(\.count) == text.split(separator: "\n").map(\.count))
}
