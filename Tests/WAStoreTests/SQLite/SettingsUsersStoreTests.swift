import Testing
import WACore
import WACoordination
@testable import WAStore

@Suite("SQLiteClusterStore: settings, users and tokens")
struct SettingsUsersStoreTests {
    @Test func everySaveBumpsTheSettingsVersion() async throws {
        try await withStores { s in
            var settings = try await s.a.settings().settings
            settings.heartbeatInterval = 3
            settings.unhealthyInterval = 12
            settings.webhooks.url = "https://hooks.example/cb"
            #expect(try await s.a.saveSettings(settings) == 2)
            let read = try await s.b.settings()
            #expect(read.version == 2)
            #expect(read.settings == settings)
            #expect(try await s.b.saveSettings(settings) == 3)
            #expect(try await s.a.settings().version == 3)
        }
    }

    @Test func anUnsetWebhookURLIsReadBackAsUnset() async throws {
        try await withStores { s in
            _ = try await s.a.saveSettings(ApplicationSettings())
            let read = try await s.b.settings().settings
            #expect(read.webhookURL == nil)
            #expect(read.heartbeatInterval == 5)
        }
    }

    @Test func usersCreateUpdateListAndDelete() async throws {
        try await withStores { s in
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

    @Test func tokensRoundTripAndGoWithTheirUser() async throws {
        try await withStores { s in
            try await s.a.saveUser(UserRecord(username: "bob", passwordHash: "h", salt: "s", mustChangePassword: false, isAdmin: false))
            let t1 = TokenRecord(tokenHash: "aa", username: "bob", expiresAt: 1_900_000_000)
            let t2 = TokenRecord(tokenHash: "bb", username: "bob", expiresAt: 1_900_000_001)
            let t3 = TokenRecord(tokenHash: "cc", username: "admin", expiresAt: 1_900_000_002)
            for tok in [t1, t2, t3] { try await s.a.saveToken(tok) }
            #expect(try await s.b.token(hash: "aa") == t1)
            #expect(try await s.b.token(hash: "zz") == nil)
            // Saving the same hash replaces it.
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
