import WACore
import WACoordination
import WAStore
import WAWire

/// One storage-contract operation as it travels to the db node: every `ClusterStore` call is
/// one request, carried out as one transaction there.
public enum StoreRequest: Codable, Sendable, Equatable {
    case schemaVersion
    case migrate(to: Int, scripts: [MigrationScript]?)
    case upsertNode(NodeRecord)
    case touchNode(String, at: LogicalInstant)
    case removeNode(String)
    case nodes
    case acquireMasterLease(node: String, ttl: Double)
    case renewMasterLease(node: String, term: Int, ttl: Double)
    case releaseMasterLease(node: String, term: Int)
    case masterLease
    case account
    case saveAccount(AccountRecord, guard: MasterGuard)
    case shardMap
    case assignShard(Int, to: String, guard: MasterGuard)
    case setShardCount(Int, guard: MasterGuard)
    case acquireShardLease(shard: Int, epoch: Int, node: String, ttl: Double)
    case renewShardLease(shard: Int, epoch: Int, node: String, ttl: Double)
    case releaseShard(shard: Int, epoch: Int, node: String)
    case reportHeartbeats(master: String, at: LogicalInstant, lastAnswered: [String: LogicalInstant])
    case peerReports(excluding: String)
    case settings
    case saveSettings(ApplicationSettings)
    case user(String)
    case users
    case saveUser(UserRecord)
    case deleteUser(String)
    case saveToken(TokenRecord)
    case token(hash: String)
    case deleteTokens(of: String)
    case clusterSecret(proposing: String)
    case document(String)
    case saveDocument(String, body: String?)
    case eraseDeliveredContent([String])
    case acceptMessages([MessageRecord])
    case applyStatuses([StatusUpdate], at: LogicalInstant, callbacks: CallbackStamp?)
    case pendingMessages(shard: Int, limit: Int)
    case message(String)
    case enqueueCallback(shard: Int, kind: String, payload: String, at: LogicalInstant)
    case dueCallbacks(shard: Int, now: LogicalInstant, limit: Int)
    case completeCallbacks([Int64])
    case retryCallbacks([CallbackRetry], error: String)
    case recordInbound(id: String, shard: Int, sender: String, body: String, at: LogicalInstant)
    case dbStats

    /// The operation's name, for errors and logs.
    public var name: String { String(describing: self).prefix { $0 != "(" }.description }
}

/// The answer to one `StoreRequest`.
public enum StoreResponse: Codable, Sendable, Equatable {
    case done
    case int(Int)
    case bool(Bool)
    case migration(MigrationResult)
    case nodes([NodeRecord])
    case lease(LeaseStatus)
    case account(AccountRecord?)
    case shardMap(ShardMapSnapshot)
    case assignment(ShardAssignment?)
    case shardLease(ShardLeaseAnswer)
    case peerReports([PeerReport])
    case settings(SettingsRecord)
    case user(UserRecord?)
    case users([UserRecord])
    case token(TokenRecord?)
    case ids([String])
    case text(String)
    case optionalText(String?)
    case statusChanges([StatusChange])
    case messages([MessageRecord])
    case message(MessageRecord?)
    case callbacks([CallbackRecord])
    case stats(DBStats)
    /// The operation failed inside the db node, as the store reported it.
    case failure(StoreError)
}

/// The db node's one RPC method: a storage request and its answer.
public enum StoreCall: RPCMethod {
    public typealias Params = StoreRequest
    public typealias Result = StoreResponse
    public static let name = "store"
}

extension StoreRequest {
    /// Carries the request out on a local store (what the db node does with it).
    public func perform(on store: any ClusterStore) async -> StoreResponse {
        do {
            switch self {
            case .schemaVersion: return .int(try await store.schemaVersion())
            case .migrate(let v, let scripts): return .migration(try await store.migrate(to: v, scripts: scripts))
            case .upsertNode(let n): try await store.upsertNode(n); return .done
            case .touchNode(let id, let at): try await store.touchNode(id, at: at); return .done
            case .removeNode(let id): try await store.removeNode(id); return .done
            case .nodes: return .nodes(try await store.nodes())
            case .acquireMasterLease(let node, let ttl): return .lease(try await store.acquireMasterLease(node: node, ttl: ttl))
            case .renewMasterLease(let node, let term, let ttl): return .bool(try await store.renewMasterLease(node: node, term: term, ttl: ttl))
            case .releaseMasterLease(let node, let term): try await store.releaseMasterLease(node: node, term: term); return .done
            case .masterLease: return .lease(try await store.masterLease())
            case .account: return .account(try await store.account())
            case .saveAccount(let a, let g): return .bool(try await store.saveAccount(a, guard: g))
            case .shardMap: return .shardMap(try await store.shardMap())
            case .assignShard(let s, let node, let g): return .assignment(try await store.assignShard(s, to: node, guard: g))
            case .setShardCount(let n, let g): return .bool(try await store.setShardCount(n, guard: g))
            case .acquireShardLease(let s, let e, let node, let ttl):
                return .shardLease(try await store.acquireShardLease(shard: s, epoch: e, node: node, ttl: ttl))
            case .renewShardLease(let s, let e, let node, let ttl):
                return .bool(try await store.renewShardLease(shard: s, epoch: e, node: node, ttl: ttl))
            case .releaseShard(let s, let e, let node): try await store.releaseShard(shard: s, epoch: e, node: node); return .done
            case .reportHeartbeats(let m, let at, let last): try await store.reportHeartbeats(master: m, at: at, lastAnswered: last); return .done
            case .peerReports(let m): return .peerReports(try await store.peerReports(excluding: m))
            case .settings: return .settings(try await store.settings())
            case .saveSettings(let s): return .int(try await store.saveSettings(s))
            case .user(let name): return .user(try await store.user(name))
            case .users: return .users(try await store.users())
            case .saveUser(let u): try await store.saveUser(u); return .done
            case .deleteUser(let name): return .bool(try await store.deleteUser(name))
            case .saveToken(let t): try await store.saveToken(t); return .done
            case .token(let hash): return .token(try await store.token(hash: hash))
            case .deleteTokens(let user): try await store.deleteTokens(of: user); return .done
            case .clusterSecret(let candidate): return .text(try await store.clusterSecret(proposing: candidate))
            case .document(let name): return .optionalText(try await store.document(name))
            case .saveDocument(let name, let body): try await store.saveDocument(name, body: body); return .done
            case .eraseDeliveredContent(let ids): try await store.eraseDeliveredContent(ids); return .done
            case .acceptMessages(let batch): return .ids(try await store.acceptMessages(batch))
            case .applyStatuses(let updates, let at, let stamp): return .statusChanges(try await store.applyStatuses(updates, at: at, callbacks: stamp))
            case .pendingMessages(let s, let limit): return .messages(try await store.pendingMessages(shard: s, limit: limit))
            case .message(let id): return .message(try await store.message(id))
            case .enqueueCallback(let s, let kind, let payload, let at):
                try await store.enqueueCallback(shard: s, kind: kind, payload: payload, at: at); return .done
            case .dueCallbacks(let s, let now, let limit): return .callbacks(try await store.dueCallbacks(shard: s, now: now, limit: limit))
            case .completeCallbacks(let ids): try await store.completeCallbacks(ids); return .done
            case .retryCallbacks(let r, let error): try await store.retryCallbacks(r, error: error); return .done
            case .recordInbound(let id, let s, let sender, let body, let at):
                return .bool(try await store.recordInbound(id: id, shard: s, sender: sender, body: body, at: at))
            case .dbStats: return .stats(try await store.dbStats())
            }
        } catch let e as StoreError {
            return .failure(e)
        } catch {
            return .failure(StoreError(.failed, "\(name) failed in the db node: \(error)"))
        }
    }
}
