import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import WACore
import WAWire

/// Everything the simulated WhatsApp server knows: registered numbers, pending codes, live
/// sessions per (number, shard), bans after conflicts, and message ids seen. One lock guards
/// it, so the conflict rule is decided atomically.
public final class GatewayState: Sendable {
    struct Key: Hashable { let phone: String; let shard: Int }
    struct Session { let id: Int; let node: String; let key: Key; let epoch: Int; let channel: Channel; let shards: Int }
    public struct Account: Codable, Sendable { var cc: String; var phoneNumber: String; var vname: String; var verified: Bool }

    private struct State {
        var sessions: [Key: Session] = [:]
        var bans: [Key: LogicalInstant] = [:]
        var accounts: [String: Account] = [:]
        var pendingCodes: [String: String] = [:]
        var messageCounts: [String: Int] = [:]
        var messageShard: [String: Key] = [:]
        var delivered: Set<String> = []
        /// Numbers a chaos step said are (true) or are not (false) on WhatsApp.
        var contacts: [String: Bool] = [:]
        var nextSessionID = 0
        var rng: SplitMix64
        /// Misbehaviour the chaos runner asked for (see `GatewayFault`).
        var misbehaviour = Misbehaviour()
    }
    private let state: Locked<State>
    struct Misbehaviour {
        var ackDelay = 0.0, statusDelay = 0.0
        var dropAcks: Set<Int> = [], dropAllAcks = false
        var refusing = false
        var bannedUntil: LogicalInstant?
    }
    /// What to do with the ack of a message on a shard.
    enum AckPlan: Equatable { case now, after(Double), drop }

    let clock: any ClusterClock
    let timings: ClusterTimings
    public let journal: GatewayJournal
    let logger: Logger
    let stateFile: String?

    /// The share of numbers, in percent, that are not on WhatsApp unless a chaos step says otherwise.
    public static let absentContactPercent: UInt64 = 10
    let seed: UInt64

    public init(clock: any ClusterClock, timings: ClusterTimings, journal: GatewayJournal, logger: Logger,
                stateFile: String?, seed: UInt64) {
        self.clock = clock; self.timings = timings; self.journal = journal; self.logger = logger
        self.seed = seed
        self.stateFile = stateFile
        var initial = State(rng: SplitMix64(seed: seed))
        if let stateFile, let data = FileManager.default.contents(atPath: stateFile),
           let saved = try? JSONCodec.decode([String: Account].self, from: data) { initial.accounts = saved }
        self.state = Locked(initial)
    }

    private func persist(_ accounts: [String: Account]) {
        guard let stateFile, let data = try? JSONCodec.encodedData(accounts) else { return }
        try? data.write(to: URL(fileURLWithPath: stateFile), options: .atomic)
    }

    // MARK: sessions

    enum HelloOutcome { case welcome(sessionID: Int), refused(String) }

    /// Decides a `hello`. A channel it displaces is returned, not closed: closing a channel on
    /// its own event loop runs that channel's handlers inline, and they call back into this
    /// state (`closed`), so nothing may be closed or written while the lock is held.
    func hello(node: String, phone: String, shard: Int, epoch: Int, shards: Int, channel: Channel) -> HelloOutcome {
        let (outcome, displaced) = state.withLock { decideHello(&$0, node: node, phone: phone, shard: shard, epoch: epoch, shards: shards, channel: channel) }
        displaced?.close(promise: nil)
        return outcome
    }

    private func decideHello(_ s: inout State, node: String, phone: String, shard: Int, epoch: Int, shards: Int,
                             channel: Channel) -> (HelloOutcome, Channel?) {
        let key = Key(phone: phone, shard: shard)
        let now = clock.now
        guard s.accounts[phone]?.verified == true else {
            journal.record("refused", ["node": node, "phone": phone, "shard": shard, "reason": "number not registered"])
            return (.refused("number \(phone) is not registered"), nil)
        }
        if s.misbehaviour.refusing {
            journal.record("refused", ["node": node, "phone": phone, "shard": shard, "reason": "refusing connections (fault)"])
            return (.refused("the WhatsApp server refuses connections right now; retry"), nil)
        }
        if let until = s.misbehaviour.bannedUntil, now < until {
            journal.record("refused", ["node": node, "phone": phone, "shard": shard, "reason": "account banned (fault)", "until": until.seconds])
            return (.refused(String(format: "the account is banned for %.0fs more", until - now)), nil)
        }
        if let until = s.bans[key], now < until {
            journal.record("refused", ["node": node, "phone": phone, "shard": shard, "reason": "banned", "until": until.seconds])
            return (.refused(String(format: "shard %d of %@ is banned for %.0fs after a conflict", shard, phone, until - now)), nil)
        }
        var displaced: Channel?
        if let existing = s.sessions[key] {
            s.sessions[key] = nil
            displaced = existing.channel
            if existing.node == node {
                journal.record("disconnect", ["node": node, "phone": phone, "shard": shard, "session": existing.id,
                                              "reason": "replaced by a new connection from the same node"])
            } else {
                // Two nodes serving one number and shard: what the real service bans for.
                s.bans[key] = now + timings.gatewayConflictBan
                journal.record("conflict", ["phone": phone, "shard": shard, "live_node": existing.node, "live_session": existing.id,
                                            "live_epoch": existing.epoch, "new_node": node, "new_epoch": epoch,
                                            "ban_seconds": timings.gatewayConflictBan])
                logger.event("gateway_conflict", "conflict on shard \(shard): \(existing.node) was live, \(node) connected",
                             ["shard": "\(shard)", "live_node": existing.node, "new_node": node], level: .error)
                journal.record("disconnect", ["node": existing.node, "phone": phone, "shard": shard, "session": existing.id, "reason": "conflict"])
                return (.refused("conflict: \(existing.node) already holds shard \(shard); both dropped and the shard is banned"), displaced)
            }
        }
        s.nextSessionID += 1
        s.sessions[key] = Session(id: s.nextSessionID, node: node, key: key, epoch: epoch, channel: channel, shards: max(1, shards))
        journal.record("connect", ["node": node, "phone": phone, "shard": shard, "epoch": epoch, "session": s.nextSessionID])
        logger.event("gateway_connect", "\(node) connected for shard \(shard)", ["node": node, "shard": "\(shard)", "epoch": "\(epoch)"])
        return (.welcome(sessionID: s.nextSessionID), displaced)
    }

    func closed(sessionID: Int, reason: String) {
        state.withLock { state in
            guard let (key, s) = state.sessions.first(where: { $0.value.id == sessionID }) else { return }
            state.sessions[key] = nil
            journal.record("disconnect", ["node": s.node, "phone": key.phone, "shard": key.shard, "session": sessionID, "reason": reason])
            logger.event("gateway_disconnect", "\(s.node) disconnected from shard \(key.shard): \(reason)",
                         ["node": s.node, "shard": "\(key.shard)", "reason": reason])
        }
    }

    func isLive(sessionID: Int) -> Bool { state.withLock { $0.sessions.values.contains { $0.id == sessionID } } }

    /// Records a message; returns how many times this id has now been seen (1 = first).
    func message(id: String, to: String, node: String, shard: Int, sessionID: Int) -> Int {
        state.withLock { state in
            let n = (state.messageCounts[id] ?? 0) + 1
            state.messageCounts[id] = n
            if let s = state.sessions.values.first(where: { $0.id == sessionID }) { state.messageShard[id] = s.key }
            journal.record("message", ["id": id, "to": to, "node": node, "shard": shard, "session": sessionID, "count": n])
            return n
        }
    }

    /// The ack of a message on `shard`, as the current misbehaviour has it.
    func ackPlan(shard: Int) -> AckPlan {
        state.withLock { s in
            if s.misbehaviour.dropAllAcks || s.misbehaviour.dropAcks.contains(shard) { return .drop }
            return s.misbehaviour.ackDelay > 0 ? .after(s.misbehaviour.ackDelay) : .now
        }
    }

    /// Extra logical seconds before a `delivered` status goes out.
    var statusDelay: Double { state.withLock { $0.misbehaviour.statusDelay } }

    /// Applies a fault; returns the channels to close, which the caller closes after the unlock.
    func apply(_ fault: GatewayFault) -> [Channel] {
        state.withLock { s in
            var close: [Channel] = []
            switch fault {
            case .delayAcks(let ms): s.misbehaviour.ackDelay = Double(ms) / 1000
            case .delayStatuses(let ms): s.misbehaviour.statusDelay = Double(ms) / 1000
            case .dropAcks(let shard):
                if let shard { s.misbehaviour.dropAcks.insert(shard) } else { s.misbehaviour.dropAllAcks = true }
            case .refuseConnections: s.misbehaviour.refusing = true
            case .dropSession(let shard):
                close = s.sessions.values.filter { shard == nil || $0.key.shard == shard }.map(\.channel)
            case .ban(let seconds):
                s.misbehaviour.bannedUntil = clock.now + seconds
                close = s.sessions.values.map(\.channel)
            case .heal:
                let ban = s.misbehaviour.bannedUntil
                s.misbehaviour = Misbehaviour()
                s.misbehaviour.bannedUntil = ban
            }
            journal.record("fault", ["fault": fault.description])
            logger.event("gateway_fault", "fault: \(fault)", ["fault": fault.kind.rawValue])
            return close
        }
    }

    /// Records that `delivered` goes out for `id`; false when it already went (never twice).
    func markDelivered(_ id: String) -> Bool { state.withLock { $0.delivered.insert(id).inserted } }

    /// The subset of `ids` this server has received.
    func known(_ ids: [String]) -> [String] { state.withLock { s in ids.filter { s.messageCounts[$0] != nil } } }

    /// Live sessions, for the gateway's status answer and tests.
    public func liveSessions() -> [(node: String, phone: String, shard: Int)] {
        state.withLock { $0.sessions.values.map { ($0.node, $0.key.phone, $0.key.shard) }.sorted { ($0.phone, $0.shard) < ($1.phone, $1.shard) } }
    }

    // MARK: registration

    func checkCert(cc: String, phoneNumber: String, cert: String) -> (SimulatedCert?, String?) {
        guard let c = SimulatedCert.decode(cert) else {
            return (nil, "cert is not a valid base64-encoded certificate")
        }
        guard c.cc == cc, c.phoneNumber == phoneNumber else {
            return (nil, "cert belongs to +\(c.cc) \(c.phoneNumber), not +\(cc) \(phoneNumber): the client is logged off; call again with the right cert")
        }
        if let exp = c.expires, exp < Date().timeIntervalSince1970 {
            return (nil, "cert expired: the account is blocked")
        }
        return (c, nil)
    }

    /// Frames written in order, outside the lock (see `hello`).
    private static func write(_ frames: [GatewayFrame], to channel: Channel) {
        for (i, frame) in frames.enumerated() {
            let buffer = ByteBuffer(data: frame.encodedLine())
            if i == frames.count - 1 { channel.writeAndFlush(buffer, promise: nil) } else { channel.write(buffer, promise: nil) }
        }
    }

    func admin(_ f: GatewayFrame) -> GatewayFrame {
        var out = GatewayFrame(.adminResult)
        var writes: [GatewayFrame] = []
        out.op = f.op
        let cc = f.cc ?? "", pn = f.phoneNumber ?? ""
        let phone = cc + pn
        switch f.op {
        case "check_cert", "request_code":
            let (cert, problem) = checkCert(cc: cc, phoneNumber: pn, cert: f.cert ?? "")
            guard let cert else {
                journal.record("cert_rejected", ["phone": phone, "reason": problem!])
                out.ok = false; out.reason = problem; return out
            }
            out.ok = true; out.vname = cert.vname
            guard f.op == "request_code" else { return out }
            return state.withLock { s in
                if s.accounts[phone]?.verified == true { out.verified = true; return out }
                let code = String(format: "%06d", s.rng.next() % 1_000_000)
                s.pendingCodes[phone] = code
                s.accounts[phone] = Account(cc: cc, phoneNumber: pn, vname: cert.vname, verified: false)
                journal.record("verification_code", ["phone": phone, "code": code, "method": f.method ?? "sms"])
                out.verified = false
                return out
            }
        case "verify_code":
            return state.withLock { s in
                guard let expected = s.pendingCodes[phone] else { out.ok = false; out.reason = "no verification code was requested for +\(phone)"; return out }
                guard expected == f.code else { out.ok = false; out.reason = "wrong verification code"; return out }
                s.pendingCodes[phone] = nil
                s.accounts[phone]?.verified = true
                persist(s.accounts)
                journal.record("registered", ["phone": phone])
                out.ok = true; out.vname = s.accounts[phone]?.vname
                return out
            }
        case "inject_inbound":
            guard let from = f.from, !from.isEmpty else { out.ok = false; out.reason = "inject_inbound needs from"; return out }
            let target: Channel? = state.withLock { state in
                let shards = state.sessions.values.first { $0.key.phone == phone && $0.key.shard >= 0 }?.shards ?? 1
                let shard = ShardRouter.shard(for: from, shards: shards)
                guard let s = state.sessions[Key(phone: phone, shard: shard)] else {
                    out.ok = false; out.reason = "shard \(shard) of +\(phone) has no live connection"; return nil
                }
                var frame = GatewayFrame(.inbound)
                frame.id = "ABGG" + String(state.rng.next() % 1_000_000_000_000, radix: 16)
                frame.from = from; frame.body = f.body ?? ""
                journal.record("inbound", ["id": frame.id!, "from": from, "shard": shard, "session": s.id])
                out.ok = true; out.id = frame.id; out.shard = shard
                writes = [frame]
                return s.channel
            }
            if let target { Self.write(writes, to: target) }
            return out
        case "mark_read":
            let target: Channel? = state.withLock { state in
                guard let id = f.id, let key = state.messageShard[id], let s = state.sessions[key] else {
                    out.ok = false; out.reason = "message \(f.id ?? "?") is unknown or its shard has no live connection"; return nil
                }
                // A message is delivered before it is read: report delivery first if it has not gone out.
                if state.delivered.insert(id).inserted {
                    var d = GatewayFrame(.status); d.id = id; d.status = "delivered"
                    writes.append(d)
                    journal.record("status", ["id": id, "status": "delivered", "session": s.id])
                }
                var frame = GatewayFrame(.status); frame.id = id; frame.status = "read"
                writes.append(frame)
                journal.record("status", ["id": id, "status": "read", "session": s.id])
                out.ok = true
                return s.channel
            }
            if let target { Self.write(writes, to: target) }
            return out
        case "message_count":
            out.count = state.withLock { $0.messageCounts[f.id ?? ""] ?? 0 }
            out.ok = true
            return out
        case "fault":
            do {
                let fault = try GatewayFault(adminFrame: f)
                for channel in apply(fault) { channel.close(promise: nil) }
                out.ok = true
            } catch {
                out.ok = false; out.reason = error.description
            }
            return out
        case "check_contacts":
            let asked = f.ids ?? []
            guard asked.count <= RequestRules.maxContactsPerRequest else {
                out.ok = false; out.reason = "at most \(RequestRules.maxContactsPerRequest) contacts per request"; return out
            }
            let decided = state.withLock { s in asked.map { ($0, s.contacts[$0] ?? Self.onWhatsApp($0, seed: seed)) } }
            out.ids = decided.filter(\.1).map(\.0)
            out.absent = decided.filter { !$0.1 }.map(\.0)
            journal.record("contacts_checked", ["count": asked.count, "absent": out.absent!.count])
            out.ok = true
            return out
        case "set_contacts":
            state.withLock { s in
                for id in f.ids ?? [] { s.contacts[id] = true }
                for id in f.absent ?? [] { s.contacts[id] = false }
            }
            journal.record("contacts_set", ["on_whatsapp": (f.ids ?? []).joined(separator: ","), "absent": (f.absent ?? []).joined(separator: ",")])
            out.ok = true
            return out
        case "restore_account":
            guard RequestRules.isASCIIDigits(cc), RequestRules.isASCIIDigits(pn) else {
                out.ok = false; out.reason = "restore_account needs cc and phone_number (digits)"; return out
            }
            return state.withLock { s in
                s.accounts[phone] = Account(cc: cc, phoneNumber: pn, vname: f.vname ?? "", verified: true)
                s.pendingCodes[phone] = nil
                persist(s.accounts)
                journal.record("registered", ["phone": phone, "via": "restore"])
                out.ok = true; out.vname = f.vname
                return out
            }
        case "get_code":
            out.code = state.withLock { $0.pendingCodes[phone] }
            out.ok = out.code != nil
            if out.code == nil { out.reason = "no pending code for +\(phone)" }
            return out
        default:
            out.ok = false; out.reason = "unknown admin op \(f.op ?? "nil")"
            return out
        }
    }

    /// Whether a number is on WhatsApp when no chaos step said: a hash of the number and the
    /// gateway's seed, so the same seed answers the same way on every run.
    static func onWhatsApp(_ id: String, seed: UInt64) -> Bool {
        var h = SplitMix64(seed: seed ^ 0x636F_6E74_6163_7473)
        var x: UInt64 = 0
        for b in id.utf8 { x = (x &* 1_099_511_628_211) ^ UInt64(b) }
        h = SplitMix64(seed: h.next() ^ x)
        return h.next() % 100 >= absentContactPercent
    }
}
