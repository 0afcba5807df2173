import Foundation
import Testing
@testable import WACore

@Suite("Codable through JSONValue")
struct JSONValueCodingTests {
    enum Shape: Codable, Equatable { case circle(radius: Double), square(Int), none }
    struct Sample: Codable, Equatable {
        var name: String
        var count: Int
        var ratio: Double
        var flag: Bool
        var missing: String?
        var present: String?
        var when: Date
        var blob: Data
        var link: URL
        var tags: [String]
        var grid: [[Int]]
        var byShard: [Int: String]
        var byName: [String: Bool]
        var shapes: [Shape]
        var big: UInt64
        var negative: Int32
        var nothing: JSONValue
    }

    let sample = Sample(name: "wacore \"1\"\n", count: 42, ratio: 0.25, flag: true, missing: nil, present: "é🙂",
                        when: Date(timeIntervalSinceReferenceDate: 1234.5), blob: Data([0, 1, 2, 255]),
                        link: URL(string: "https://hooks.example/a?b=c")!, tags: ["a", "b"], grid: [[1, 2], [], [3]],
                        byShard: [0: "wacore1", 3: "wacore2"], byName: ["x": false], shapes: [.circle(radius: 1.5), .square(2), .none],
                        big: 1 << 52, negative: -7, nothing: .null)

    @Test func encodesWhatFoundationsEncoderWrites() throws {
        let foundation = try JSONCodec.parse(JSONEncoder().encode(sample))
        #expect(try JSONCodec.encode(sample) == foundation)
    }

    @Test func decodesWhatFoundationsEncoderWroteAndRoundTrips() throws {
        #expect(try JSONCodec.decode(Sample.self, from: JSONEncoder().encode(sample)) == sample)
        #expect(try JSONCodec.decode(Sample.self, from: JSONCodec.encodedData(sample)) == sample)
        #expect(try JSONDecoder().decode(Sample.self, from: JSONCodec.encodedData(sample)) == sample)
    }

    @Test func theProductsSettingsSurviveTheTrip() throws {
        let settings = ApplicationSettings()
        #expect(try JSONCodec.decode(ApplicationSettings.self, from: JSONCodec.encode(settings)) == settings)
        #expect(try JSONCodec.encode(settings) == JSONCodec.parse(JSONEncoder().encode(settings)))
    }

    @Test func wrongShapesAreErrorsNamingThePath() throws {
        struct Inner: Codable { var n: Int }
        struct Outer: Codable { var inner: [Inner] }
        let wrongType = JSONValue.object(["inner": .array([.object(["n": .string("2")])])])
        #expect(throws: DecodingError.self) { try JSONCodec.decode(Outer.self, from: wrongType) }
        do { _ = try JSONCodec.decode(Outer.self, from: wrongType) } catch let DecodingError.typeMismatch(_, context) {
            #expect(context.codingPath.map(\.stringValue) == ["inner", "0", "n"])
        }
        #expect(throws: DecodingError.self) { try JSONCodec.decode(Inner.self, from: JSONValue.object([:])) }
        #expect(throws: DecodingError.self) { try JSONCodec.decode(Inner.self, from: JSONValue.object(["n": .number(2.5)])) }
        #expect(throws: DecodingError.self) { try JSONCodec.decode(UInt8.self, from: JSONValue.number(300)) }
        #expect(throws: EncodingError.self) { try JSONCodec.encode(Double.nan) }
    }
}

@Suite("Pretty JSON")
struct PrettyJSONTests {
    /// The goldens were written by Foundation's pretty printer: re-recording them with the
    /// package's codec must not change a byte (the file's own trailing newline aside).
    @Test func theRecordedHealthGoldensAreWrittenByteForByteAsTheyStand() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../fixtures/health").standardized.path
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".json") }
        #expect(files.count > 3)
        for file in files {
            let bytes = try #require(FileManager.default.contents(atPath: folder + "/" + file))
            var rewritten = JSONCodec.prettyData(try JSONCodec.parse(bytes))
            rewritten.append(0x0A)
            #expect(String(decoding: rewritten, as: UTF8.self) == String(decoding: bytes, as: UTF8.self), "\(file)")
        }
    }

    @Test func emptyContainersAndNestingAreLaidOutAsFoundationLaysThemOut() {
        let value = JSONValue.object(["a": .array([]), "b": .object([:]), "c": .array([.number(1), .object(["d": .string("x/y")])])])
        #expect(String(decoding: JSONCodec.prettyData(value), as: UTF8.self) == """
            {
              "a" : [],
              "b" : {},
              "c" : [
                1,
                {
                  "d" : "x/y"
                }
              ]
            }
            """)
    }
}
