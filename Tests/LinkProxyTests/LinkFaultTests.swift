import Foundation
import LinkProxy
import Testing

/// The fault vocabulary on its own: encoding for scenario files and reports, and validation.
struct LinkFaultTests {
    static let everyKind: [LinkFault] = [
        .partition(direction: .both), .partition(direction: .forward), .partition(direction: .backward),
        .delay(milliseconds: 200, jitterMilliseconds: 50), .bandwidth(bytesPerSecond: 10_000), .reset,
    ]

    @Test(arguments: everyKind)
    func faultsSurviveAJSONRoundTrip(_ fault: LinkFault) throws {
        let data = try JSONEncoder().encode(fault)
        #expect(try JSONDecoder().decode(LinkFault.self, from: data) == fault)
    }

    @Test func descriptionsAreShortAndReadable() {
        #expect(LinkFault.delay(milliseconds: 200, jitterMilliseconds: 50).description == "delay(200ms±50ms)")
        #expect(LinkFault.partition(direction: .forward).description == "partition(forward)")
        #expect(LinkFault.bandwidth(bytesPerSecond: 10).description == "bandwidth(10B/s)")
    }

    @Test(arguments: [
        LinkFault.delay(milliseconds: -1, jitterMilliseconds: 0),
        .delay(milliseconds: 10, jitterMilliseconds: -5),
        .bandwidth(bytesPerSecond: 0),
    ])
    func outOfRangeFaultsAreRejected(_ fault: LinkFault) {
        let proxy = LinkProxy(name: "validation", upstreamHost: "127.0.0.1", upstreamPort: 9)
        #expect(throws: LinkProxyError.self) { try proxy.apply(fault) }
        #expect(proxy.activeFault == nil)
    }

    @Test func errorsNameTheProxy() {
        let error = LinkProxyError.bindFailed(proxy: "master1->db", host: "127.0.0.1", port: 80, reason: "denied")
        #expect(error.description.contains("master1->db"))
        #expect(error.description.contains("127.0.0.1:80"))
    }
}
