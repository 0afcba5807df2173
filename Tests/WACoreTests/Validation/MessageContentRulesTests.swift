import Foundation
import Testing
@testable import WACore

@Suite("Message content rules: templates, hsm, contacts")
struct MessageContentRulesTests {
    @Test func aTemplateNeedsNamespaceNameAndALanguageCode() throws {
        let good = JSONValue.object(["namespace": .string("ns"), "name": .string("order"), "language": .object(["code": .string("en"), "policy": .string("deterministic")]),
                                     "components": .array([.object(["type": .string("BODY"), "parameters": .array([])])])])
        #expect(try RequestRules.template(good) == good)
        func field(_ v: JSONValue?) -> String? { do { _ = try RequestRules.template(v); return nil } catch { return error.details } }
        #expect(field(nil)?.contains("'template'") == true)
        #expect(field(.object(["name": .string("n"), "language": .object(["code": .string("en")])]))?.contains("'template.namespace'") == true)
        #expect(field(.object(["namespace": .string("ns"), "name": .string("n"), "language": .object(["policy": .string("fallback")])]))?.contains("'template.language.code'") == true)
        #expect(field(.object(["namespace": .string("ns"), "name": .string("n"), "language": .object(["code": .string("en")]),
                               "components": .array([.object(["type": .string("carousel")])])]))?.contains("'template.components[0]'") == true)
    }

    @Test func theHSMFormIsCheckedLikeATemplate() throws {
        let good = JSONValue.object(["namespace": .string("ns"), "element_name": .string("order"), "language": .object(["code": .string("en")]),
                                     "localizable_params": .array([.object(["default": .string("Ada")])])])
        #expect(try RequestRules.hsm(good) == good)
        #expect(throws: APIError.self) { try RequestRules.hsm(.object(["namespace": .string("ns"), "language": .object(["code": .string("en")])])) }
        #expect(throws: APIError.self) { try RequestRules.hsm(.object(["namespace": .string("ns"), "element_name": .string("e"), "language": .object(["code": .string("en")]),
                                                                       "localizable_params": .string("Ada")])) }
    }

    @Test func storedContentIsCheckedByItsKind() throws {
        try RequestRules.content("hello", kind: .text)
        try RequestRules.content(#"{"name":"n"}"#, kind: .template)
        #expect(throws: APIError.self) { try RequestRules.content("hello", kind: .template) }
        #expect(throws: APIError.self) { try RequestRules.content("", kind: .hsm) }
        let long = #"{"name":""# + String(repeating: "x", count: 4100) + #""}"#
        #expect(throws: APIError.self) { try RequestRules.content(long, kind: .template) }
    }

    @Test func aContactIsItsDigitsOrNotANumber() {
        #expect(RequestRules.contactID("+1 (650) 555-0101") == "16505550101")
        #expect(RequestRules.contactID("16505550101") == "16505550101")
        #expect(RequestRules.contactID("1.650.555.0101") == "16505550101")
        #expect(RequestRules.contactID("call me") == nil)
        #expect(RequestRules.contactID("1+6505550101") == nil, "+ only in front")
        #expect(RequestRules.contactID("1234") == nil, "too short for a WhatsApp id")
        #expect(RequestRules.contactID("١٦٥٠٥٥٥٠١٠١") == nil, "ASCII digits only")
    }
}
