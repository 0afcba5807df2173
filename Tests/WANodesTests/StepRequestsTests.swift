import ShellTestKit
import Testing
import WACore
import WANodes

/// A controller in miniature: each pass waits at a gate the test opens.
private actor GatedStepper {
    let steps = StepRequests()
    private(set) var passes = 0
    private var gate: CheckedContinuation<Void, Never>?

    func step() async { await steps.run { await pass() } }
    private func pass() async {
        passes += 1
        await withCheckedContinuation { gate = $0 }
    }
    /// Inside pass number `n` (counting from 1).
    func inPass(_ n: Int) -> Bool { gate != nil && passes == n }
    var waitingCallers: Int { steps.waitingCallers }
    func openGate() { gate?.resume(); gate = nil }
}

@Suite("Step requests")
struct StepRequestsTests {
    @Test func aCallDuringAPassWaitsForTheNextAndCallersMeanwhileShareIt() async throws {
        let stepper = GatedStepper()
        let returnedAfter = Locked<[String: Int]>([:])
        func call(_ name: String) -> Task<Void, Never> {
            Task {
                await stepper.step()
                let passes = await stepper.passes
                returnedAfter.withLock { $0[name] = passes }
            }
        }
        let first = call("first")
        #expect(await settles { await stepper.inPass(1) })
        let (second, third) = (call("second"), call("third"))
        #expect(await settles { await stepper.waitingCallers == 2 }, "the calls made during the pass were dropped or ran")
        #expect(await stepper.passes == 1, "a second pass interleaved with the first")

        await stepper.openGate()
        #expect(await settles { await stepper.inPass(2) }, "no pass ran for the calls made meanwhile")
        #expect(returnedAfter.value.isEmpty, "a caller returned before a pass that began after its call")

        await stepper.openGate()
        for task in [first, second, third] { await task.value }
        #expect(returnedAfter.value == ["first": 2, "second": 2, "third": 2])
        #expect(await stepper.passes == 2, "the two waiting callers did not share one pass")

        // Idle again: the next call runs a pass of its own at once.
        let fourth = call("fourth")
        #expect(await settles { await stepper.inPass(3) })
        await stepper.openGate()
        await fourth.value
        #expect(returnedAfter.value["fourth"] == 3)
    }
}
