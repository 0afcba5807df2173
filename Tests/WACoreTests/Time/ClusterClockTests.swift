import Foundation
import Testing
@testable import WACore

@Suite("LogicalInstant and TimeScale")
struct ClusterClockTests {
    @Test func logicalInstantArithmeticAndOrdering() {
        let a = LogicalInstant(seconds: 100)
        let b = a + 30
        #expect(b.seconds == 130)
        #expect((b - 10).seconds == 120)
        #expect(b - a == 30)
        #expect(a < b)
        #expect(!(b < a))
        #expect(max(a, b) == b)
    }

    @Test func logicalInstantDescriptionHasMillisecondPrecision() {
        #expect(LogicalInstant(seconds: 1.5).description == "1.500")
        #expect(LogicalInstant(seconds: 12.34567).description == "12.346")
    }

    @Test func logicalInstantEncodesAsABareNumber() throws {
        let data = try JSONEncoder().encode(LogicalInstant(seconds: 42.25))
        #expect(String(decoding: data, as: UTF8.self) == "42.25")
        let back = try JSONDecoder().decode(LogicalInstant.self, from: Data("7.5".utf8))
        #expect(back == LogicalInstant(seconds: 7.5))
    }

    @Test func timeScaleConvertsBothWays() throws {
        let s = try TimeScale(0.1)
        #expect(abs(s.real(30) - 3) < 1e-12)
        #expect(abs(s.logical(3) - 30) < 1e-9)
        #expect(TimeScale.realTime.factor == 1)
        #expect(TimeScale.realTime.real(5) == 5)
    }

    @Test(arguments: [0.0, -1, 100.0001, .infinity, .nan])
    func timeScaleRejectsFactorsOutsideZeroToHundred(_ factor: Double) {
        #expect(throws: ConfigError.self) { try TimeScale(factor) }
        do { _ = try TimeScale(factor) } catch let e as ConfigError {
            #expect(e.code == .invalidValue)
            #expect(e.variable == "WA_TIME_SCALE")
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test(arguments: [0.001, 0.1, 1, 100])
    func timeScaleAcceptsFactorsInZeroToHundred(_ factor: Double) throws {
        #expect(try TimeScale(factor).factor == factor)
    }

    @Test func sleepUntilAPastDeadlineReturnsAtOnce() async throws {
        let clock = ManualClock(start: .init(seconds: 50))
        try await clock.sleep(until: .init(seconds: 10))
        try await clock.sleep(until: .init(seconds: 50))
        #expect(clock.sleeperCount == 0)
    }

    @Test func scaledSystemClockRunsAtLogicalSpeed() throws {
        // Logical time is real time / factor: at 0.001 one real second is 1000 logical ones.
        let fast = ScaledSystemClock(scale: try TimeScale(0.001))
        let real = ScaledSystemClock(scale: .realTime)
        let ratio = fast.now.seconds / real.now.seconds
        #expect(abs(ratio - 1000) < 0.01)
    }
}
