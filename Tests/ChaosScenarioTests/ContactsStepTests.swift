import Testing
@testable import ChaosScenario

/// `contacts: {on_whatsapp: [...], not_on_whatsapp: [...]}`: what the WhatsApp server answers
/// `POST /v1/contacts` for these numbers, read, written back and refused when wrong.
@Suite("Contacts step")
struct ContactsStepTests {
    @Test func numbersAreReadAsWhatsAppIdsAndWrittenBackTheSame() throws {
        let s = try ScenarioLoader.parse(yaml: """
            name: t
            topology: {masters: 1, coreapps: 1}
            steps:
              - contacts: {on_whatsapp: ["+1 (650) 555-0101", "16505550102"], not_on_whatsapp: ["+16505550103"]}
              - contacts: {not_on_whatsapp: ["16505550104"]}
            """, file: "chaos/t.yml")
        #expect(s.steps == [.contacts(onWhatsApp: ["16505550101", "16505550102"], notOnWhatsApp: ["16505550103"], line: 4),
                            .contacts(onWhatsApp: [], notOnWhatsApp: ["16505550104"], line: 5)])
        #expect(!StepKind.contacts.isFault)
        let again = try ScenarioLoader.parse(yaml: ScenarioWriter.yaml(s, comment: "round trip"), file: "chaos/again.yml")
        #expect(again.steps.map(ScenarioWriter.step) == s.steps.map(ScenarioWriter.step))
    }

    @Test func aWrongContactsStepNamesTheFieldAndWhy() {
        let lines = errorLines("""
            name: t
            topology: {masters: 1, coreapps: 1}
            steps:
              - contacts: {on_whatsapp: "16505550101"}
              - contacts: {on_whatsapp: ["call me"]}
              - contacts: {}
              - contacts: {on_whatsapp: ["16505550101"], not_on_whatsapp: ["+16505550101"]}
              - contacts: {valid: ["16505550101"]}
            """)
        #expect(lines.count == 6, "\(lines)")
        #expect(lines[0].hasPrefix("chaos/t.yml:4: steps[0].contacts.on_whatsapp: expected a list of phone numbers"))
        #expect(lines[1].hasPrefix("chaos/t.yml:5: steps[1].contacts.on_whatsapp[0]: expected a phone number"))
        #expect(lines[2].hasPrefix("chaos/t.yml:6: steps[2].contacts: names no number"))
        #expect(lines[3].hasPrefix("chaos/t.yml:7: steps[3].contacts: 16505550101 is in both"))
        #expect(lines[4].hasPrefix("chaos/t.yml:8: steps[4].contacts.valid: unknown key; expected one of on_whatsapp, not_on_whatsapp"))
    }
}
