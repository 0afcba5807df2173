import Foundation
import WACore

/// Where a running `wachaos up` listens and how to reach it: written to `session.json` in the
/// session folder (and `<runs>/up-session.json` for the latest session) for `wachaos fault`,
/// `status`, `watch`, `logs` and `support-bundle` to find.
public struct SessionInfo: Codable, Sendable, Equatable {
    /// The control API on loopback, e.g. `http://127.0.0.1:41234`.
    public var control: String
    /// The same API on a unix socket (`curl --unix-socket PATH`).
    public var socket: String
    /// The bearer token every control call must carry.
    public var token: String
    /// The session folder: node logs, the recorded scenario, reports.
    public var directory: String
    /// The cluster's REST API (the webapp), its admin token and the webhook receiver `up` hosts.
    public var api: String
    public var adminToken: String
    public var webhook: String?
    public var pid: Int32
    public var scenario: String

    enum CodingKeys: String, CodingKey {
        case control, socket, token, directory, api, pid, scenario, webhook
        case adminToken = "admin_token"
    }

    public init(control: String, socket: String, token: String, directory: String, api: String, adminToken: String, webhook: String?, pid: Int32, scenario: String) {
        self.control = control; self.socket = socket; self.token = token; self.directory = directory
        self.api = api; self.adminToken = adminToken; self.webhook = webhook; self.pid = pid; self.scenario = scenario
    }

    /// The file name in a session folder.
    public static let fileName = "session.json"
    /// The latest session's file under the runs folder.
    public static let latestFileName = "up-session.json"
}

/// What `GET /v1/status` answers: the cluster as the live view draws it.
public struct SessionStatus: Codable, Sendable, Equatable {
    public struct Node: Codable, Sendable, Equatable {
        public var name: String
        /// `webapp`, `primary_master`, `secondary_master`, `coreapp`, `db`, `gateway` (from health when it answers, else the layout).
        public var role: String
        /// running, down or paused (the runner's own record of the process).
        public var process: String
        /// The gateway status health reports (`connected`, `disconnected`, ...), if any.
        public var gateway: String?
        /// The shard this coreapp owns, if any.
        public var shard: Int?
        public var version: String?
        /// The health entry's error, if any.
        public var error: String?
        public init(name: String, role: String, process: String, gateway: String? = nil, shard: Int? = nil, version: String? = nil, error: String? = nil) {
            self.name = name; self.role = role; self.process = process; self.gateway = gateway; self.shard = shard; self.version = version; self.error = error
        }
    }
    public struct Fault: Codable, Sendable, Equatable {
        public var id: Int
        public var kind: String
        public var detail: String
        /// Real seconds since the session started.
        public var since: Double
        public init(id: Int, kind: String, detail: String, since: Double) { self.id = id; self.kind = kind; self.detail = detail; self.since = since }
    }
    public struct ShardSends: Codable, Sendable, Equatable {
        public var shard: Int
        public var owner: String?
        public var accepted: Int
        public var refused: Int
        public init(shard: Int, owner: String?, accepted: Int, refused: Int) { self.shard = shard; self.owner = owner; self.accepted = accepted; self.refused = refused }
    }
    public struct Event: Codable, Sendable, Equatable {
        /// Real seconds since the session started.
        public var at: Double
        public var kind: String
        public var detail: String
        public init(at: Double, kind: String, detail: String) { self.at = at; self.kind = kind; self.detail = detail }
    }

    public var scenario: String
    public var uptime: Double
    public var scale: Double
    public var seed: UInt64
    public var engine: String
    public var shards: Int
    /// True once the scenario's own steps (a `--replay`) are done and the session takes requests.
    public var interactive: Bool
    public var nodes: [Node]
    public var faults: [Fault]
    /// The message stream now (nil when stopped).
    public var workload: String?
    /// Per shard, the sends completed in the last `window` real seconds.
    public var window: Double
    public var sends: [ShardSends]
    public var events: [Event]

    public init(scenario: String, uptime: Double, scale: Double, seed: UInt64, engine: String, shards: Int, interactive: Bool,
                nodes: [Node], faults: [Fault], workload: String?, window: Double, sends: [ShardSends], events: [Event]) {
        self.scenario = scenario; self.uptime = uptime; self.scale = scale; self.seed = seed; self.engine = engine; self.shards = shards
        self.interactive = interactive; self.nodes = nodes; self.faults = faults; self.workload = workload; self.window = window
        self.sends = sends; self.events = events
    }
}

/// What a step request answers: the lines the runner noted while it ran and the checks it recorded.
public struct StepAnswer: Codable, Sendable, Equatable {
    public var step: String
    public var notes: [String]
    public var checks: [String]
    /// Set when the step failed: the runner's reason.
    public var error: String?
    public init(step: String, notes: [String], checks: [String], error: String? = nil) {
        self.step = step; self.notes = notes; self.checks = checks; self.error = error
    }
}

/// A refused control request: the HTTP status, a stable code and what to do about it.
public struct ControlError: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Codable, Sendable {
        case unauthorized = "UNAUTHORIZED"
        case badRequest = "BAD_REQUEST"
        case badStep = "BAD_STEP"
        case stepFailed = "STEP_FAILED"
        case notFound = "NOT_FOUND"
        case sessionEnding = "SESSION_ENDING"
        case noSession = "NO_SESSION"
    }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }

    public var status: Int {
        switch code {
        case .unauthorized: 401
        case .badRequest, .badStep: 400
        case .stepFailed: 422
        case .notFound: 404
        case .sessionEnding: 409
        case .noSession: 503
        }
    }
    public var description: String { "\(code.rawValue): \(message)" }
}
