import Testing
import WACore
import WAWire

@Suite struct GatewayFaultWireTests {
    @Test func everyFaultRoundTripsThroughItsAdminFrame() throws {
        let all: [GatewayFault] = [.delayAcks(milliseconds: 2000), .dropAcks(shard: 1), .dropAcks(shard: nil), .refuseConnections,
                                   .dropSession(shard: 0), .dropSession(shard: nil), .ban(seconds: 30), .delayStatuses(milliseconds: 500), .heal]
        for f in all { #expect(try GatewayFault(adminFrame: f.adminFrame) == f, "\(f)") }
    }

    @Test func aBadFaultFrameSaysWhatIsWrong() {
        var f = GatewayFrame(.admin); f.op = "fault"
        #expect { try GatewayFault(adminFrame: f) } throws: { "\($0)".contains("needs a kind") }
        f.status = "melt"
        #expect { try GatewayFault(adminFrame: f) } throws: { "\($0)".contains("unknown fault kind 'melt'") }
        f.status = "delay_acks"
        #expect { try GatewayFault(adminFrame: f) } throws: { "\($0)".contains("needs count") }
        f.status = "drop_acks"; f.shard = 40
        #expect { try GatewayFault(adminFrame: f) } throws: { "\($0)".contains("shard must be 0...31") }
    }
}
