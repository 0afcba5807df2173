import Foundation
import Testing
@testable import WACore

@Suite("JSONValue")
struct JSONValueTests {
    @Test func parsesEveryKindOfValue() throws {
        let v = try JSONValue.parse(Data(#"{"a":1,"b":[true,null,"x"],"c":2.5,"d":{"e":false}}"#.utf8))
        #expect(v == .object(["a": .number(1), "b": .array([.bool(true), .null, .string("x")]), "c": .number(2.5),
                              "d": .object(["e": .bool(false)])]))
        #expect(v["a"]?.intValue == 1)
        #expect(v["c"]?.intValue == nil)
        #expect(v["d"]?["e"]?.boolValue == false)
        #expect(v["b"]?.typeName == "array")
        #expect(v["missing"] == nil)
    }

    @Test func numbersAreNotBooleansAndBooleansAreNotNumbers() throws {
        #expect(try JSONValue.parse(Data("1".utf8)) == .number(1))
        #expect(try JSONValue.parse(Data("0".utf8)) == .number(0))
        #expect(try JSONValue.parse(Data("true".utf8)) == .bool(true))
        #expect(JSONValue.bool(true).intValue == nil)
        #expect(JSONValue.number(1).boolValue == nil)
        #expect(JSONValue.string("5").intValue == nil)
    }

    @Test func integralNumbersEncodeWithoutAFraction() {
        #expect(JSONValue.number(5).description == "5")
        #expect(JSONValue.number(2.5).description == "2.5")
        #expect(JSONValue.object(["b": .number(1), "a": .null]).description == #"{"a":null,"b":1}"#)
    }

    @Test func integersAndStringsAreWrittenAsBefore() throws {
        for n in [0, 7, -1, 10, -10, 42, 1_796_206_448, -999_999_999_999_999, 999_999_999_999_999] {
            #expect(JSONValue.number(Double(n)).description == String(n))
        }
        #expect(JSONValue.number(1e15).description == "\(1e15)")
        #expect(JSONValue.number(-0.0).description == "0")
        #expect(JSONValue.string("plain gBEG-_ text ünï").description == #""plain gBEG-_ text ünï""#)
        #expect(JSONValue.string("q\"b\\n\nt\tr\r\u{1}").description == #""q\"b\\n\nt\tr\r\u0001""#)
        let nested: JSONValue = .object(["z": .array([.number(-3), .string("a\"")]), "a": .object(["y": .bool(true), "b": .null])])
        #expect(nested.description == #"{"a":{"b":null,"y":true},"z":[-3,"a\""]}"#)
        #expect(try JSONValue.parse(Data(nested.description.utf8)) == nested)
    }

    @Test func malformedJSONIsAParseError() {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Data("{\"a\":".utf8)) }
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Data("".utf8)) }
    }
}
