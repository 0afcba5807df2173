import Foundation
import Testing
import WACore
@testable import WAChaos

@Suite("JSON codec benchmark")
struct JSONCodecBenchmarkTests {
    @Test func everyContenderIsTimedOnEveryDocumentOfTheMessagePath() throws {
        let result = try JSONCodecBenchmark.run(iterations: 3, rounds: 2)
        #expect(result.figures.count == JSONCodecBenchmark.messagePath.count * JSONCodecBenchmark.Contender.allCases.count)
        for figure in result.figures where figure.contender == .jsonCodec { #expect(figure.timesJSONCodec == 1) }
        #expect(result.figures.allSatisfy { $0.microsecondsPerRoundTrip > 0 })
        #expect(Set(result.messagePathMicroseconds.keys) == Set(JSONCodecBenchmark.Contender.allCases.map(\.rawValue)))
    }

    @Test func aDocumentThatIsNotJSONFailsTheRunInsteadOfTimingNothing() {
        let broken = JSONCodecBenchmark.Document(name: "broken", bytes: Data("{\"to\":".utf8))
        #expect(throws: (any Error).self) { try JSONCodecBenchmark.run(iterations: 1, rounds: 1, documents: [broken]) }
    }
}
