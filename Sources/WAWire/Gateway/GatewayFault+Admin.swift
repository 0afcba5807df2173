import WACore

extension GatewayFault {
    /// The admin frame that sets this fault.
    public var adminFrame: GatewayFrame {
        var f = GatewayFrame(.admin)
        f.op = "fault"
        f.status = kind.rawValue
        switch self {
        case .delayAcks(let ms), .delayStatuses(let ms): f.count = ms
        case .dropAcks(let s), .dropSession(let s): f.shard = s
        case .ban(let seconds): f.count = Int(seconds.rounded())
        case .refuseConnections, .heal: break
        }
        return f
    }

    /// Reads a fault from an admin frame; the error names what was wrong.
    public init(adminFrame f: GatewayFrame) throws(GatewayFaultError) {
        guard let text = f.status else { throw GatewayFaultError("fault needs a kind in status: one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))") }
        guard let kind = Kind(rawValue: text) else {
            throw GatewayFaultError("unknown fault kind '\(text)'; expected one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        func amount(_ what: String, _ range: ClosedRange<Int>) throws(GatewayFaultError) -> Int {
            guard let n = f.count, range.contains(n) else { throw GatewayFaultError("\(text) needs count: \(what) in \(range.lowerBound)...\(range.upperBound), got \(f.count.map(String.init) ?? "none")") }
            return n
        }
        if let s = f.shard, !(0..<32).contains(s) { throw GatewayFaultError("shard must be 0...31, got \(s)") }
        switch kind {
        case .delayAcks: self = .delayAcks(milliseconds: try amount("milliseconds", 0...600_000))
        case .delayStatuses: self = .delayStatuses(milliseconds: try amount("milliseconds", 0...600_000))
        case .dropAcks: self = .dropAcks(shard: f.shard)
        case .dropSession: self = .dropSession(shard: f.shard)
        case .refuseConnections: self = .refuseConnections
        case .ban: self = .ban(seconds: Double(try amount("seconds", 1...3600)))
        case .heal: self = .heal
        }
    }
}
