/// What to run: where, how many keep-alive connections, how hard and for how long.
public struct LoadPlan: Sendable {
    public var host: String
    public var port: Int
    /// Keep-alive connections, spread round-robin over the event loops of the group.
    public var connections: Int
    /// Requests outstanding per connection (HTTP/1.1 pipelining); 1 is a closed loop per connection.
    public var pipelineDepth: Int
    /// Length of the measured phase, which follows the warm-up.
    public var duration: Duration
    /// Load is sent but not measured for this long first (counts still include it, see `LoadResult`).
    public var warmup: Duration
    /// Stop after this many requests in total (warm-up included). Sequence numbers are then
    /// exactly `0..<maxRequests`.
    public var maxRequests: Int?
    /// Overall requests per second, paced open-loop over the connections; nil is as fast as the
    /// connections and `pipelineDepth` allow. A connection that has `pipelineDepth` requests
    /// outstanding sends its due requests late, as soon as answers free a slot.
    public var targetRate: Double?
    /// With `targetRate`: the connections of one event loop are served by one timer that fires at
    /// most this often, sending everything due at each tick. Coarser is cheaper for the generator
    /// (fewer wake-ups) but sends in small bursts; at 5,000 req/s over 16 connections, 0.5 ms vs
    /// 2 ms was about 39 vs 19 µs of generator CPU per request, and 0.1 vs 0.3 ms median latency.
    public var pacingGranularity: Duration
    /// A request without a complete answer after this long fails (counted in `errors`) and its
    /// connection, with everything outstanding on it, is dropped and re-opened. Also the connect timeout.
    public var requestTimeout: Duration
    /// Bytes of each 2xx body kept in `LoadResult.accepted`; 0 keeps only sequence and status.
    public var acceptedBodyLimit: Int
    /// Whether to keep `LoadResult.accepted` at all: 32 bytes per 2xx answer, plus the kept body
    /// in its own allocation (about 32 bytes + its length) when `acceptedBodyLimit` > 0.
    public var recordAccepted: Bool

    public init(
        host: String = "127.0.0.1",
        port: Int,
        connections: Int = 8,
        pipelineDepth: Int = 1,
        duration: Duration = .seconds(10),
        warmup: Duration = .zero,
        maxRequests: Int? = nil,
        targetRate: Double? = nil,
        pacingGranularity: Duration = .milliseconds(1),
        requestTimeout: Duration = .seconds(10),
        acceptedBodyLimit: Int = 256,
        recordAccepted: Bool = true
    ) {
        self.host = host
        self.port = port
        self.connections = connections
        self.pipelineDepth = pipelineDepth
        self.duration = duration
        self.warmup = warmup
        self.maxRequests = maxRequests
        self.targetRate = targetRate
        self.pacingGranularity = pacingGranularity
        self.requestTimeout = requestTimeout
        self.acceptedBodyLimit = acceptedBodyLimit
        self.recordAccepted = recordAccepted
    }
}

/// The request every connection sends. `Host` and `Content-Length` are added (a `Host` in
/// `headers` is used instead of the generated one; a `Content-Length` or `Transfer-Encoding`
/// there is dropped). The head is rendered once; per request only the body is built.
public struct RequestTemplate: Sendable {
    public var method: String
    public var path: String
    public var headers: [(String, String)]
    /// Builds the body of the request with the given sequence number. Called on event-loop
    /// threads, concurrently: keep it cheap and free of shared mutable state.
    public var body: @Sendable (Int) -> [UInt8]

    public init(
        method: String = "POST",
        path: String,
        headers: [(String, String)] = [],
        body: @escaping @Sendable (Int) -> [UInt8] = { _ in [] }
    ) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }
}

/// One 2xx answer: which request it answered, its status and (the start of) its body.
public struct AcceptedResponse: Sendable, Hashable {
    public var sequence: Int
    public var status: Int
    /// The first `LoadPlan.acceptedBodyLimit` bytes of the body (de-chunked).
    public var body: [UInt8]
    /// The whole body's length, which can exceed `body.count`.
    public var bodyLength: Int
}

/// Why a sent request ended without an answer.
public enum LoadErrorKind: String, Sendable, Hashable, CaseIterable {
    /// No complete answer within `LoadPlan.requestTimeout`.
    case timeout
    /// The connection ended (closed, reset, or `Connection: close` on an earlier answer) first.
    case connectionLost
    /// The answer could not be parsed as HTTP/1.1, or arrived with no request outstanding.
    case protocolError
}

/// Counts cover the whole run, warm-up included, so that `sent == completed + errors` and
/// `accepted` lists every 2xx; `throughput` and `latency` cover the measured phase only.
public struct LoadResult: Sendable {
    /// Requests written to a connection.
    public var sent: Int
    /// Requests answered (any status).
    public var completed: Int
    /// Answers by status code; the values add up to `completed`.
    public var byStatus: [Int: Int]
    /// Sent requests that got no answer; broken down in `errorsByKind`.
    public var errors: Int
    public var errorsByKind: [LoadErrorKind: Int]
    /// Connection attempts that failed (refused, timed out). No request is lost by these, so they
    /// are not in `errors`; the connection is retried with a back-off (20 ms doubling to 1 s).
    public var connectFailures: Int
    /// Length of the measured phase: `duration`, or less when `maxRequests` ended the run early.
    public var elapsed: Duration
    /// 2xx answers received within the measured phase per second of it.
    public var throughput: Double
    /// 2xx answers received within the measured phase (the numerator of `throughput`).
    public var measuredAccepted: Int
    /// Answers of any status received within the measured phase per second of it (a baseline
    /// route that answers 404 is measured by this).
    public var answerRate: Double = 0
    /// Write-to-last-byte latency of 2xx answers to requests written in the measured phase
    /// (including those answered during the final drain).
    public var latency: LatencyHistogram
    /// Every 2xx answer, in no particular order (sort by `sequence`). Empty if not recorded.
    public var accepted: [AcceptedResponse]
}

public enum LoadGeneratorError: Error, Sendable, Equatable {
    case invalidPlan(String)
}

extension LoadResult: CustomStringConvertible {
    /// One line for logs: counts, throughput and latency percentiles in milliseconds.
    public var description: String {
        func ms(_ d: Duration) -> String {
            let value = Double(d.nanosecondsClamped) / 1e6
            return String(Double(Int((value * 1000).rounded())) / 1000)
        }
        let statuses = byStatus.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: ",")
        let kinds = errorsByKind.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue):\($0.value)" }
        return "sent=\(sent) completed=\(completed) errors=\(errors)"
            + (kinds.isEmpty ? "" : "[\(kinds.joined(separator: ","))]")
            + " connectFailures=\(connectFailures) status=[\(statuses)]"
            + " elapsed=\(ms(elapsed))ms throughput=\(Int(throughput.rounded()))/s"
            + " latency(ms) p50=\(ms(latency.percentile(50))) p90=\(ms(latency.percentile(90)))"
            + " p99=\(ms(latency.percentile(99))) p99.9=\(ms(latency.percentile(99.9))) max=\(ms(latency.max))"
            + " mean=\(ms(latency.mean)) n=\(latency.count)"

    }
}
