import WACore

/// What one master knows of its heartbeats to the coreapps: when each was first seen and the
/// send time of the latest heartbeat it answered. Send time, not receive time, so a link
/// delay d adds at most 2d to the staleness: a round trip 2d with 2d + heartbeat_interval
/// below unhealthy_interval never fails a coreapp over on its own.
public struct HeartbeatLedger: Equatable, Sendable, Codable {
    public var firstSeen: [String: LogicalInstant] = [:]
    public var lastAnswered: [String: LogicalInstant] = [:]
    public init() {}

    public mutating func saw(_ node: String, at now: LogicalInstant) {
        if firstSeen[node] == nil { firstSeen[node] = now }
    }
    public mutating func answered(_ node: String, sentAt: LogicalInstant) {
        if let prev = lastAnswered[node], prev >= sentAt { return }
        lastAnswered[node] = sentAt
        if firstSeen[node] == nil { firstSeen[node] = sentAt }
    }
    public mutating func forget(_ node: String) { firstSeen[node] = nil; lastAnswered[node] = nil }

    /// The instant staleness is measured from: the latest answer, or first sight if none yet.
    public func reference(_ node: String) -> LogicalInstant? { lastAnswered[node] ?? firstSeen[node] }
}

/// A secondary master's ledger as it reported it through the DB.
public struct PeerReport: Equatable, Sendable, Codable {
    public var masterID: String
    public var reportedAt: LogicalInstant
    public var lastAnswered: [String: LogicalInstant]
    public init(masterID: String, reportedAt: LogicalInstant, lastAnswered: [String: LogicalInstant]) {
        self.masterID = masterID; self.reportedAt = reportedAt; self.lastAnswered = lastAnswered
    }
}

/// Why a coreapp is judged unhealthy; the text goes into the `coreapp_unhealthy` event.
public enum UnhealthyReason: Equatable, Sendable, CustomStringConvertible {
    case heartbeat(primarySilentFor: Double, peer: String, peerSilentFor: Double, unhealthyInterval: Double)
    case database(heartbeatAge: Double, limit: Double)
    case neverHeartbeated(limit: Double)

    public var description: String {
        switch self {
        case let .heartbeat(p, peer, ps, u):
            return String(format: "no heartbeat answer to the primary master for %.1fs and to %@ for %.1fs (unhealthy_interval %.0fs)", p, peer, ps, u)
        case let .database(age, limit):
            return String(format: "DB heartbeat is %.1fs old (limit %.0fs)", age, limit)
        case let .neverHeartbeated(limit):
            return String(format: "no DB heartbeat row within %.0fs", limit)
        }
    }
    public var path: String {
        switch self { case .heartbeat: "heartbeat"; case .database, .neverHeartbeated: "db" }
    }
}

/// The primary master's failure detector: heartbeat-based when at least one other master is
/// alive and reporting (both must have lost the coreapp for unhealthy_interval), DB-based
/// always (DB heartbeat older than 120 s of time the database could be read).
public struct CoreappMonitor: Sendable {
    public var heartbeatInterval: Double
    public var unhealthyInterval: Double
    public var timings: ClusterTimings

    public init(heartbeatInterval: Double, unhealthyInterval: Double, timings: ClusterTimings) {
        self.heartbeatInterval = heartbeatInterval; self.unhealthyInterval = unhealthyInterval; self.timings = timings
    }

    /// A peer counts only while its reports are fresh; a dead secondary cannot vote.
    public func livePeers(_ reports: [PeerReport], now: LogicalInstant) -> [PeerReport] {
        let freshness = 2 * heartbeatInterval + timings.tick + 1
        return reports.filter { now - $0.reportedAt <= freshness }.sorted { $0.masterID < $1.masterID }
    }

    /// Whether heartbeat-based monitoring is active (more than one master alive).
    public func heartbeatMonitoringActive(peers: [PeerReport], now: LogicalInstant) -> Bool {
        !livePeers(peers, now: now).isEmpty
    }

    /// How old a DB row written at `written` is, counting only the time this master could read
    /// the database (`outages`): nobody could write it while the database was away.
    public func readableAge(since written: LogicalInstant, now: LogicalInstant, outages: DatabaseOutageLedger?) -> Double {
        (now - written) - (outages?.unreadable(from: written, to: now) ?? 0)
    }

    /// Judges one coreapp. `dbHeartbeat` is its DB row's time (nil: none yet), `registeredAt`
    /// when it first appeared in the DB, `outages` when this master could not read the database.
    public func verdict(for node: String, now: LogicalInstant, own: HeartbeatLedger, peers: [PeerReport],
                        dbHeartbeat: LogicalInstant?, registeredAt: LogicalInstant,
                        outages: DatabaseOutageLedger? = nil) -> UnhealthyReason? {
        if let hb = dbHeartbeat {
            let age = readableAge(since: hb, now: now, outages: outages)
            if age > timings.dbUnhealthyAfter { return .database(heartbeatAge: age, limit: timings.dbUnhealthyAfter) }
        } else if readableAge(since: registeredAt, now: now, outages: outages) > timings.dbUnhealthyAfter {
            return .neverHeartbeated(limit: timings.dbUnhealthyAfter)
        }
        let live = livePeers(peers, now: now)
        guard !live.isEmpty, let ref = own.reference(node) else { return nil }
        let ownSilence = now - ref
        guard ownSilence >= unhealthyInterval else { return nil }
        for peer in live {
            guard let peerRef = peer.lastAnswered[node] else { continue }
            let peerSilence = now - peerRef
            if peerSilence >= unhealthyInterval {
                return .heartbeat(primarySilentFor: ownSilence, peer: peer.masterID, peerSilentFor: peerSilence,
                                  unhealthyInterval: unhealthyInterval)
            }
        }
        return nil
    }

    /// Seen by this master but not answered yet, for less than two heartbeat rounds.
    public func isPending(_ node: String, now: LogicalInstant, own: HeartbeatLedger) -> Bool {
        guard own.lastAnswered[node] == nil, let seen = own.firstSeen[node] else { return false }
        return now - seen < 2 * heartbeatInterval + timings.tick
    }

    /// A standby may be promoted only if it answered this master recently and its DB row is fresh.
    public func isPromotable(_ node: String, now: LogicalInstant, own: HeartbeatLedger, dbHeartbeat: LogicalInstant?,
                             outages: DatabaseOutageLedger? = nil) -> Bool {
        guard let answered = own.lastAnswered[node] else { return false }
        guard now - answered <= max(2 * heartbeatInterval, 2 * timings.tick) + timings.tick else { return false }
        if let hb = dbHeartbeat, readableAge(since: hb, now: now, outages: outages) > timings.dbUnhealthyAfter { return false }
        return true
    }
}
