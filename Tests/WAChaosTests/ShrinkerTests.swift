import ChaosScenario
import Testing
@testable import WAChaos

@Suite struct ShrinkerUnitTests {
    let w1 = NodeTarget(.name("wacore1")), w2 = NodeTarget(.name("wacore2"))
    var link: LinkSelector { LinkSelector(from: .name("wacore1"), to: .name("master1")) }

    @Test func eachFaultIsPairedWithTheStepThatHealsIt() {
        let steps: [Step] = [.waitHealthy(timeout: 60, line: 1), .kill(w1, line: 2), .sleep(5, line: 3), .pause(w2, line: 4),
                             .start(w1, line: 5), .resume(w2, line: 6), .partition(link, direction: .both, line: 7), .heal(.link(link), line: 8),
                             .restart(w1, line: 9), .skew(w2, byMs: 300, driftPPM: 0, line: 10), .skew(w2, byMs: 0, driftPPM: 0, line: 11),
                             .gateway(.dropAcks(shard: 0), line: 12), .gateway(.heal, line: 13)]
        #expect(Shrinker.units(steps) == [.init(fault: 1, heal: 4), .init(fault: 3, heal: 5), .init(fault: 6, heal: 7),
                                          .init(fault: 8, heal: nil), .init(fault: 9, heal: 10), .init(fault: 11, heal: 12)])
    }

    @Test func tidyMergesSleepsAndDropsThoseAfterTheLastHeal() {
        let steps: [Step] = [.sleep(5, line: 1), .sleep(10, line: 2), .kill(w1, line: 3), .sleep(10, line: 4), .start(w1, line: 5),
                             .sleep(5, line: 6), .sleep(10, line: 7), .heal(.all, line: 8), .waitHealthy(timeout: 120, line: 9)]
        #expect(Shrinker.tidy(steps) == [.sleep(15, line: 2), .kill(w1, line: 3), .sleep(10, line: 4), .start(w1, line: 5),
                                         .heal(.all, line: 8), .waitHealthy(timeout: 120, line: 9)])
    }
}
