import Foundation
import Testing
@testable import WACore

@Suite("ManualClock")
struct ManualClockTests {
    /// Spins (without sleeping) until `count` tasks are parked in the clock.
    private func waitForSleepers(_ clock: ManualClock, _ count: Int) async {
        while clock.sleeperCount < count { await Task.yield() }
    }

    @Test func startsWhereToldAndMovesOnlyOnAdvance() {
        let clock = ManualClock(start: .init(seconds: 10))
        #expect(clock.now.seconds == 10)
        #expect(clock.now.seconds == 10)
        clock.advance(by: 2.5)
        #expect(clock.now.seconds == 12.5)
        #expect(ManualClock().now.seconds == 1_000_000)
    }

    @Test func zeroOrNegativeSleepReturnsAtOnce() async throws {
        let clock = ManualClock()
        try await clock.sleep(logicalSeconds: 0)
        try await clock.sleep(logicalSeconds: -3)
        #expect(clock.sleeperCount == 0)
        #expect(clock.now.seconds == 1_000_000)
    }

    @Test func sleepersWakeInDeadlineOrderAsTimeAdvances() async throws {
        let clock = ManualClock(start: .init(seconds: 0))
        // Registered out of order: 3 s, 1 s, 2 s.
        let three = Task { try await clock.sleep(logicalSeconds: 3); return clock.now.seconds }
        await waitForSleepers(clock, 1)
        let one = Task { try await clock.sleep(logicalSeconds: 1); return clock.now.seconds }
        await waitForSleepers(clock, 2)
        let two = Task { try await clock.sleep(logicalSeconds: 2); return clock.now.seconds }
        await waitForSleepers(clock, 3)

        clock.advance(by: 0.5)
        #expect(clock.sleeperCount == 3)
        clock.advance(by: 0.5)                      // t = 1: only the 1 s sleeper is due
        #expect(try await one.value == 1)
        #expect(clock.sleeperCount == 2)
        clock.advance(by: 1)                        // t = 2
        #expect(try await two.value == 2)
        #expect(clock.sleeperCount == 1)
        clock.advance(by: 1)                        // t = 3
        #expect(try await three.value == 3)
        #expect(clock.sleeperCount == 0)
    }

    @Test func oneLargeAdvanceWakesEverySleeperThatIsDue() async throws {
        let clock = ManualClock(start: .init(seconds: 0))
        let tasks = (1...5).map { i in Task { try await clock.sleep(logicalSeconds: Double(i)) } }
        await waitForSleepers(clock, 5)
        clock.advance(by: 4)
        for t in tasks.prefix(4) { try await t.value }
        #expect(clock.sleeperCount == 1)
        clock.advance(by: 1)
        try await tasks[4].value
        #expect(clock.sleeperCount == 0)
    }

    @Test func sleepUntilWaitsForTheDeadline() async throws {
        let clock = ManualClock(start: .init(seconds: 100))
        let t = Task { try await clock.sleep(until: .init(seconds: 105)); return clock.now.seconds }
        await waitForSleepers(clock, 1)
        clock.advance(by: 4.9)
        #expect(clock.sleeperCount == 1)
        clock.advance(by: 0.1)
        #expect(try await t.value >= 105)
    }

    @Test func aCancelledTaskDoesNotStartSleeping() async {
        let clock = ManualClock()
        let t = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await clock.sleep(logicalSeconds: 10)
        }
        await #expect(throws: CancellationError.self) { try await t.value }
        #expect(clock.sleeperCount == 0)
    }

    /// As postgres-nio's MockClock: cancelling a task parked in `sleep` wakes it at once with
    /// `CancellationError`, without anyone advancing the clock, and leaves no sleeper behind.
    @Test func aSleeperCancelledWhileParkedWakesAtOnce() async {
        let clock = ManualClock()
        await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await clock.sleep(logicalSeconds: 3600) }
            while clock.sleeperCount == 0 { await Task.yield() }
            group.cancelAll()
            await #expect(throws: CancellationError.self) { try await group.next() }
        }
        #expect(clock.sleeperCount == 0)
        #expect(clock.now == ManualClock().now, "nobody advanced the clock")
    }
}
