import Foundation
import WACore

/// `wachaos bench json`: the package's JSON codec (`JSONCodec`, over `JSONValue`) against
/// Foundation's coders on the documents every accepted message crosses, in one process, rounds
/// interleaved so the machine's noise falls on every contender alike. The figures decide which
/// codec the message path uses (README, Performance).
public enum JSONCodecBenchmark {
    /// One document of the message path, as bytes on the wire.
    public struct Document: Sendable {
        public var name: String
        public var bytes: Data
    }

    /// The documents one accepted message is parsed from and written to, in the order it meets them.
    public static let messagePath: [Document] = [
        Document(name: "POST /v1/messages body", bytes: Data(#"""
            {"to":"16315551234","type":"text","recipient_type":"individual","preview_url":false,"text":{"body":"Your order 4471 has shipped and will arrive on Thursday."}}
            """#.utf8)),
        Document(name: "RPC send (webapp→coreapp)", bytes: Data(#"""
            {"id":4471,"method":"send","params":{"shard":3,"user":"admin","message":{"to":"16315551234","type":"text","recipient_type":"individual","text":{"body":"Your order 4471 has shipped and will arrive on Thursday."}},"idempotency_key":"3b0f8d0e-6d0a-4c1e-9a51-3f3f0c6c2f10"}}
            """#.utf8)),
        Document(name: "RPC answer (coreapp→webapp)", bytes: Data(#"""
            {"id":4471,"result":{"id":"gBEGkYiEB1VXAglK1ZEqA1YKPrU","shard":3,"epoch":12}}
            """#.utf8)),
        Document(name: "status callback (coreapp→webhook)", bytes: Data(#"""
            {"statuses":[{"id":"gBEGkYiEB1VXAglK1ZEqA1YKPrU","recipient_id":"16315551234","status":"sent","timestamp":"1764662400","type":"message"}]}
            """#.utf8)),
    ]

    /// A way to read a document into a value and write it back.
    public enum Contender: String, CaseIterable, Sendable, Codable {
        /// `JSONCodec.parse` → `JSONValue` → `JSONCodec.write` (what the message path uses today).
        case jsonCodec = "JSONCodec (JSONValue)"
        /// Foundation's `JSONDecoder`/`JSONEncoder` on `JSONValue` (its Decodable initialiser).
        case foundationCodableValue = "JSONDecoder/JSONEncoder (JSONValue)"
        /// Foundation's `JSONSerialization` into `[String: Any]` and back.
        case foundationSerialization = "JSONSerialization ([String: Any])"
    }

    public struct Figure: Sendable, Codable {
        public var document: String
        public var contender: Contender
        /// Microseconds for one parse plus one write, best round.
        public var microsecondsPerRoundTrip: Double
        /// This contender's time over JSONCodec's on the same document (1 for JSONCodec itself).
        public var timesJSONCodec: Double
    }

    public struct Result: Sendable, Codable {
        public var iterations: Int
        public var rounds: Int
        public var figures: [Figure]
        /// Microseconds the whole message path spends in JSON per message, best round, per contender.
        public var messagePathMicroseconds: [String: Double]
    }

    /// Runs every contender on every document `iterations` times per round; keeps each one's
    /// best round (the least disturbed by the rest of the machine).
    public static func run(iterations: Int, rounds: Int, documents: [Document] = messagePath) throws -> Result {
        precondition(iterations > 0 && rounds > 0)
        var best: [String: Double] = [:]
        for _ in 0..<rounds {
            for document in documents {
                for contender in Contender.allCases {
                    let seconds = try time(contender, document.bytes, iterations: iterations)
                    let key = "\(document.name)|\(contender.rawValue)"
                    best[key] = min(best[key] ?? .infinity, seconds / Double(iterations) * 1e6)
                }
            }
        }
        var figures: [Figure] = []
        var path: [String: Double] = [:]
        for document in documents {
            let baseline = best["\(document.name)|\(Contender.jsonCodec.rawValue)"]!
            for contender in Contender.allCases {
                let us = best["\(document.name)|\(contender.rawValue)"]!
                figures.append(Figure(document: document.name, contender: contender, microsecondsPerRoundTrip: us,
                                      timesJSONCodec: us / baseline))
                path[contender.rawValue, default: 0] += us
            }
        }
        return Result(iterations: iterations, rounds: rounds, figures: figures, messagePathMicroseconds: path)
    }

    /// Seconds for `iterations` parse-and-write round trips; each written document is checked
    /// to parse back to the same value, so a contender cannot win by doing less.
    static func time(_ contender: Contender, _ bytes: Data, iterations: Int) throws -> Double {
        let expected = try JSONCodec.parse(bytes)
        var written = Data()
        let start = ContinuousClock.now
        switch contender {
        case .jsonCodec:
            for _ in 0..<iterations { written = JSONCodec.data(try JSONCodec.parse(bytes)) }
        case .foundationCodableValue:
            let decoder = JSONDecoder(), encoder = JSONEncoder()
            for _ in 0..<iterations { written = try encoder.encode(try decoder.decode(JSONValue.self, from: bytes)) }
        case .foundationSerialization:
            for _ in 0..<iterations {
                written = try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(with: bytes))
            }
        }
        let elapsed = start.duration(to: .now)
        guard try JSONCodec.parse(written) == expected else {
            throw BenchmarkMismatch(contender: contender, written: String(decoding: written, as: UTF8.self))
        }
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    public struct BenchmarkMismatch: Error, CustomStringConvertible {
        public var contender: Contender
        public var written: String
        public var description: String { "\(contender.rawValue) wrote a document that does not read back the same: \(written)" }
    }
}
