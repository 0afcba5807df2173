import Foundation
import Testing
@testable import WAChaos

@Suite("Process CPU accounting")
struct ProcessCPUTests {
    @Test func aLiveProcessIsChargedItsTimeAndAGoneOneIsLeftOut() {
        let me = getpid()
        var x = 0.0
        for i in 0..<3_000_000 { x += sin(Double(i)) }  // some CPU to charge
        #expect(x.isFinite)
        let seconds = ProcessCPU.seconds(of: [me, Int32.max])
        #expect((seconds[me] ?? 0) > 0)
        #expect(seconds[Int32.max] == nil)
        #expect(ProcessCPU.ownSeconds() > 0)
    }

    @Test func theProfileIsTheDifferenceBetweenSamplesPerUnit() {
        let profile = CPUProfile(from: ["db": 1.0, "waweb": 2.0, "gone": 5.0], to: ["db": 1.5, "waweb": 3.0, "new": 9.0], wallSeconds: 1)
        #expect(profile.secondsByNode == ["db": 0.5, "waweb": 1.0])
        #expect(profile.perUnit(1000) == ["db": 500, "waweb": 1000])
        #expect(profile.perUnit(0).isEmpty)
        let text = profile.perUnitDescription(units: 1000, unitName: "message")
        #expect(text.hasPrefix("1500 µs CPU per message"))
        #expect(text.contains("waweb 1000 µs (67 %), db 500 µs (33 %)"))
    }
}
