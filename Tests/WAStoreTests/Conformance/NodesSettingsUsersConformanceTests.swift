import Testing
import WACore
import WACoordination
import WAStore

@Suite("Storage contract: nodes, heartbeat reports, settings, users and tokens")
struct NodesSettingsUsersConformanceTests {
    func node(_ id: String, _ host: String, _ role: NodeRole = .coreapp, at: Double) -> NodeRecord {
        NodeRecord(nodeID: id, hostname: host, role: role, rpcAddress: HostPort(host: "127.0.0.1", port: 6252), version: "1.0",
                   registeredAt: t(at), heartbeatAt: t(at))
    }

    @Test(arguments: Backend.all)
    func reportsRoundTripReplaceAndSayTheMasterIsAlive(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            try await s.a.reportHeartbeats(master: "m1", at: t(7), lastAnswered: ["c1": t(5), "c2": t(6)])
            #expect(try await s.b.peerReports(excluding: "m2") == [PeerReport(masterID: "m1", reportedAt: t(7), lastAnswered: ["c1": t(5), "c2": t(6)])])
            #expect(try await s.a.peerReports(excluding: "m1") == [])
            try await s.a.reportHeartbeats(master: "m1", at: t(12), lastAnswered: ["c1": t(12)])
            #expect(try await s.b.peerReports(excluding: "m2") == [PeerReport(masterID: "m1", reportedAt: t(12), lastAnswered: ["c1": t(12)])])
            try await s.a.reportHeartbeats(master: "m1", at: t(20), lastAnswered: [:])
            #expect(try await s.b.peerReports(excluding: "m2") == [PeerReport(masterID: "m1", reportedAt: t(20), lastAnswered: [:])])
            try await s.b.reportHeartbeats(master: "m3", at: t(3), lastAnswered: ["c1": t(1)])
            try await s.b.reportHeartbeats(master: "m2", at: t(2), lastAnswered: [:])
            #expect(try await s.a.peerReports(excluding: "m2").map(\.masterID) == ["m1", "m3"])
        }
    }

    @Test(arguments: Backend.all)
    func nodesUpsertTouchAndRemove(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            try await s.a.upsertNode(node("id2", "wacore2", at: 0))
            try await s.b.upsertNode(node("id1", "wacore1", at: 1))
            try await s.b.upsertNode(node("idm", "master1", .master, at: 2))
            #expect(try await s.a.nodes().map(\.hostname) == ["master1", "wacore1", "wacore2"])
            // A re-registration keeps the first registration time but updates the rest.
            var again = node("id2", "wacore2", at: 50)
            again.version = "2.0"
            try await s.b.upsertNode(again)
            let n = try #require(try await s.a.nodes().first { $0.nodeID == "id2" })
            #expect(n.registeredAt == t(0) && n.heartbeatAt == t(50) && n.version == "2.0")
            try await s.a.touchNode("id2", at: t(60))
            #expect(try await s.b.nodes().first { $0.nodeID == "id2" }?.heartbeatAt == t(60))
            // Removing a node also removes it from heartbeat reports.
            try await s.a.reportHeartbeats(master: "idm", at: t(61), lastAnswered: ["id1": t(60), "id2": t(60)])
            try await s.b.removeNode("id2")
            #expect(try await s.a.nodes().map(\.nodeID).sorted() == ["id1", "idm"])
            #expect(try await s.a.peerReports(excluding: "x").first?.lastAnswered == ["id1": t(60)])
        }
    }

    @Test(arguments: Backend.all)
    func everySaveBumpsTheSettingsVersion(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            var settings = try await s.a.settings().settings
            settings.heartbeatInterval = 3
            settings.unhealthyInterval = 12
            settings.webhooks.url = "https://hooks.example/cb"
            #expect(try await s.a.saveSettings(settings) == 2)
            #expect(try await s.b.settings() == SettingsRecord(version: 2, settings: settings))
            #expect(try await s.b.saveSettings(ApplicationSettings()) == 3)
            let read = try await s.a.settings()
            #expect(read.version == 3 && read.settings.webhookURL == nil)
        }
    }

    @Test(arguments: Backend.all)
    func interleavedSettingsSavesNeverLoseAnUpdate(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let versions = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<100 {
                    let store = i % 2 == 0 ? s.a : s.b
                    group.addTask {
                        var settings = ApplicationSettings()
                        settings.callbackBackoffDelayMs = i
                        return try await store.saveSettings(settings)
                    }
                }
                var out: [Int] = []
                for try await v in group { out.append(v) }
                return out
            }
            #expect(versions.sorted() == Array(2...101))
            #expect(try await s.a.settings().version == 101)
        }
    }

    @Test(arguments: Backend.all)
    func usersCreateUpdateListAndDelete(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            let bob = UserRecord(username: "bob", passwordHash: "h1", salt: "s1", mustChangePassword: false, isAdmin: false)
            try await s.a.saveUser(bob)
            #expect(try await s.b.user("bob") == bob)
            #expect(try await s.b.users().map(\.username) == ["admin", "bob"])
            var changed = bob
            changed.passwordHash = "h2"; changed.salt = "s2"; changed.mustChangePassword = true; changed.isAdmin = true
            try await s.b.saveUser(changed)
            #expect(try await s.a.user("bob") == changed)
            #expect(try await s.a.user("nobody") == nil)
            #expect(try await s.a.deleteUser("bob"))
            #expect(try await s.a.deleteUser("bob") == false)
            #expect(try await s.b.users().map(\.username) == ["admin"])
        }
    }

    @Test(arguments: Backend.all)
    func tokensRoundTripAndGoWithTheirUser(_ backend: Backend) async throws {
        try await withStores(backend) { (s: StoreFixture) async throws in
            try await s.a.saveUser(UserRecord(username: "bob", passwordHash: "h", salt: "s", mustChangePassword: false, isAdmin: false))
            let t1 = TokenRecord(tokenHash: "aa", username: "bob", expiresAt: 1_900_000_000)
            let t2 = TokenRecord(tokenHash: "bb", username: "bob", expiresAt: 1_900_000_001)
            let t3 = TokenRecord(tokenHash: "cc", username: "admin", expiresAt: 1_900_000_002)
            for tok in [t1, t2, t3] { try await s.a.saveToken(tok) }
            #expect(try await s.b.token(hash: "aa") == t1)
            #expect(try await s.b.token(hash: "zz") == nil)
            let t1b = TokenRecord(tokenHash: "aa", username: "bob", expiresAt: 1_950_000_000)
            try await s.b.saveToken(t1b)
            #expect(try await s.a.token(hash: "aa") == t1b)
            try await s.a.deleteTokens(of: "admin")
            #expect(try await s.b.token(hash: "cc") == nil)
            #expect(try await s.b.token(hash: "bb") == t2)
            #expect(try await s.a.deleteUser("bob"))
            #expect(try await s.b.token(hash: "aa") == nil)
            #expect(try await s.b.token(hash: "bb") == nil)
        }
    }
}
