import Foundation
import Testing
import WACore
import WACoordination
import WAStore
@testable import WAStoreRemote
import WAWire

/// Every request and answer of the db node's protocol survives the trip as a JSON line: the
/// hand-written fast path and the Codable fallback agree with the values they carry.
@Suite("db node wire format")
struct StoreWireTests {
    static let node = NodeRecord(nodeID: "abc123def456", hostname: "wacore1", role: .coreapp, rpcAddress: HostPort(host: "127.0.0.1", port: 6252),
                                 version: "2.53.2", registeredAt: t(1), heartbeatAt: t(2.5))
    static let message = MessageRecord(id: "gBEG1", shard: 1, recipient: "15551234567", body: "héllo \"quoted\"\n", idempotencyKey: "k",
                                       state: .accepted, acceptedBy: "c1", acceptedAt: t(3.25))
    static let row = ShardAssignment(shard: 0, owner: "c1", epoch: 7, fenceUntil: t(4), leaseUntil: t(12))
    static let guardian = MasterGuard(nodeID: "m1", term: 3)

    static let requests: [StoreRequest] = [
        .schemaVersion, .migrate(to: 2, scripts: nil), .migrate(to: 5, scripts: [MigrationScript(version: 5, engine: .sqlite, sql: "CREATE TABLE x(y INTEGER)")]), .upsertNode(node), .touchNode("n", at: t(9)), .removeNode("n"), .nodes,
        .acquireMasterLease(node: "m1", ttl: 10), .renewMasterLease(node: "m1", term: 2, ttl: 10), .releaseMasterLease(node: "m1", term: 2),
        .masterLease, .account, .saveAccount(AccountRecord(cc: "1", phoneNumber: "555", vname: "V", state: .registered, shards: 2), guard: guardian),
        .shardMap, .assignShard(1, to: "c2", guard: guardian), .setShardCount(4, guard: guardian),
        .acquireShardLease(shard: 1, epoch: 9, node: "c2", ttl: 8), .renewShardLease(shard: 1, epoch: 9, node: "c2", ttl: 8),
        .releaseShard(shard: 1, epoch: 9, node: "c2"), .reportHeartbeats(master: "m1", at: t(5), lastAnswered: ["c1": t(4)]),
        .peerReports(excluding: "m1"), .settings, .saveSettings(ApplicationSettings()), .user("bob"), .users,
        .saveUser(UserRecord(username: "bob", passwordHash: "h", salt: "s", mustChangePassword: true, isAdmin: false)), .deleteUser("bob"),
        .saveToken(TokenRecord(tokenHash: "t", username: "bob", expiresAt: 1.5e9)), .token(hash: "t"), .deleteTokens(of: "bob"),
        .acceptMessages([message, MessageRecord(id: "gBEG2", shard: 0, recipient: "1", body: "", idempotencyKey: nil, state: .sent, acceptedBy: "c", acceptedAt: t(0))]),
        .applyStatuses([StatusUpdate(id: "gBEG1", state: .delivered)], at: t(6), callbacks: CallbackStamp(unixTime: 1_800_000_000)),
        .applyStatuses([], at: t(6), callbacks: nil), .pendingMessages(shard: 1, limit: 500), .message("gBEG1"),
        .enqueueCallback(shard: 0, kind: "inbound", payload: "{\"a\":1}", at: t(7)), .dueCallbacks(shard: 0, now: t(8), limit: 500),
        .completeCallbacks([1, 2, 9_000_000_000]), .retryCallbacks([CallbackRetry(id: 4, attempts: 2, nextAttemptAt: t(9))], error: "500"),
        .recordInbound(id: "ABGG1", shard: 0, sender: "1555", body: "hi", at: t(10)), .dbStats,
    ]

    static let responses: [StoreResponse] = [
        .done, .int(42), .bool(true), .bool(false), .migration(MigrationResult(from: 1, to: 2)), .nodes([node]),
        .lease(LeaseStatus(lease: LeaseRecord(holder: "m1", term: 2, expiresAt: t(10)), remaining: 7.5)),
        .account(nil), .account(AccountRecord(cc: "1", phoneNumber: "555", vname: "V", state: .pendingCode, shards: 1)),
        .shardMap(ShardMapSnapshot(shardCount: 2, rows: [row, ShardAssignment(shard: 1, owner: nil, epoch: 8, fenceUntil: t(0), leaseUntil: nil)], asOf: t(11))),
        .assignment(row), .assignment(nil), .shardLease(.granted(validFor: 8)), .shardLease(.fenced(remaining: 1.5)), .shardLease(.refused),
        .peerReports([PeerReport(masterID: "m2", reportedAt: t(1), lastAnswered: ["c1": t(0.5)])]),
        .settings(SettingsRecord(version: 3, settings: ApplicationSettings())), .user(nil), .users([]),
        .token(TokenRecord(tokenHash: "t", username: "bob", expiresAt: 1.5e9)), .token(nil), .ids(["a", "b"]),
        .statusChanges([StatusChange(id: "gBEG1", shard: 1, recipient: "1555", state: .read)]), .messages([message]), .message(message),
        .callbacks([CallbackRecord(id: 3, shard: 1, kind: "status", payload: "{}", attempts: 2, nextAttemptAt: t(4))]), .stats(DBStats()),
        .failure(StoreError(.schemaTooNew, "newer")),
    ]

    /// Through the same bytes the RPC line carries.
    func roundTrip<T: JSONValueConvertible>(_ value: T) throws -> T {
        try T(json: try JSONCodec.parse(JSONCodec.data(value.json)))
    }

    @Test(arguments: requests)
    func requestsRoundTrip(_ r: StoreRequest) throws {
        #expect(try roundTrip(r) == r)
    }

    @Test(arguments: responses)
    func responsesRoundTrip(_ r: StoreResponse) throws {
        #expect(try roundTrip(r) == r)
    }

    @Test func anUnknownOperationOrAMistypedFieldIsAClearError() {
        #expect(throws: JSONShapeError.self) { try StoreRequest(json: .object(["op": .string("dropEverything")])) }
        #expect(throws: JSONShapeError.self) { try StoreRequest(json: .object(["op": .string("pending"), "shard": .string("0"), "limit": .number(1)])) }
        #expect(throws: (any Error).self) { try StoreResponse(json: .object(["kind": .string("ids"), "value": .array([.number(1)])])) }
    }
}
