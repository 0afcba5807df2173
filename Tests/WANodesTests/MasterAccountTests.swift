import Foundation
import Logging
import NIOPosix
import ShellTestKit
import Testing
import WACore
@testable import WAGateway
import WANodes
import WAStore
import WAWire

/// The primary master's account duties as clients use them, in-process on a manual clock
/// with a real (in-process) WhatsApp server: the 7-day rule of a shard change without cert,
/// contacts, a restored account, and pages to the on-call pager.
@Suite("Master: shards without cert, contacts, restore, pager")
struct MasterAccountTests {
    struct Rig {
        let f: ShellFixture
        let rt: NodeRuntime
        let master: MasterController
        let gateway: GatewayServer
        let state: GatewayState
        let core: NodeRecord
    }

    /// master1 as primary with a registered account, wacore1 known, and a gateway that knows the number.
    func rig(registeredAt: LogicalInstant? = nil) async throws -> Rig {
        let f = try await ShellFixture()
        let journal = GatewayJournal(sink: try LineSink.file(atPath: f.directory + "/gateway.jsonl"), clock: f.clock)
        let state = GatewayState(clock: f.clock, timings: .standard, journal: journal, logger: Logger(label: "gateway"), stateFile: nil, seed: 7)
        let gateway = try await GatewayServer.start(host: "127.0.0.1", port: 0, state: state, adminSecret: try ClusterSecret(ShellFixture.clusterSecret),
                                                    group: MultiThreadedEventLoopGroup.singleton)
        let rt = try f.runtime(.master, hostname: "master1", nodeID: "m1", port: 7410, gateway: HostPort(host: "127.0.0.1", port: gateway.port))
        let core = f.coreappRecord("c1", hostname: "wacore1", port: 7510)
        try await f.store.upsertNode(core)
        let master = MasterController(runtime: rt)
        await master.step()
        try await f.registerAccount(holder: "m1", registeredAt: registeredAt ?? f.clock.now)
        await master.step()
        // The gateway registers the number as a verification would.
        var code = GatewayFrame(.admin)
        code.op = "restore_account"; code.cc = "1"; code.phoneNumber = "6505551234"; code.vname = "Fixture"
        _ = state.admin(code)
        return Rig(f: f, rt: rt, master: master, gateway: gateway, state: state, core: core)
    }

    /// After a jump of the clock the lease has lapsed: the master takes it again, as its loops would.
    func passTime(_ r: Rig, _ seconds: Double) async throws {
        r.f.clock.advance(by: seconds)
        for _ in 0..<3 {
            await r.master.renewLease()
            await r.master.step()
        }
        #expect(try await r.f.store.masterLease().holder == "m1")
    }

    func shards(_ n: Int, cert: String? = nil) -> NodeRPC.SetShards.Params {
        .init(cc: "1", phoneNumber: "6505551234", shards: n, cert: cert, pin: nil)
    }

    @Test func withinSevenDaysOfRegistrationTheShardCountChangesWithoutCert() async throws {
        let r = try await rig()
        try await withSideWork(r.rt) {
            try await passTime(r, ClusterTimings.shardChangeWithoutCert - 60)
            _ = try await r.master.setShards(shards(2))
            #expect(try await r.f.store.account()?.shards == 2)
            #expect(try await r.f.store.account()?.state == .registered)
        }
        await r.gateway.close()
    }

    @Test func afterSevenDaysAShardChangeWithoutCertLogsTheClusterOffAndTheCertLogsItOn() async throws {
        let r = try await rig()
        try await withSideWork(r.rt) {
            try await passTime(r, ClusterTimings.shardChangeWithoutCert + 3600)
            await #expect {
                _ = try await r.master.setShards(shards(2))
            } throws: { error in
                let e = error as? APIError
                return e?.code == APIErrorCode.parameterMissing.rawValue && e?.httpStatus == 400
                    && e?.details.contains("logged off") == true && e?.details.contains("cert") == true
            }
            #expect(try await r.f.store.account()?.state == .loggedOff)
            #expect(try await r.f.store.account()?.shards == 1)
            #expect(r.f.events().contains { $0.event == "account_logged_off" })
            // Every coreapp is told at once: each drops its shard (the account is not registered).
            #expect(await settles { r.f.peers.calls(NodeRPC.ShardMapChanged.name).contains { $0.peer == r.core.rpcAddress } })
            // Without cert it stays refused; a wrong cert is refused by the WhatsApp server.
            await #expect(throws: APIError.self) { _ = try await r.master.setShards(shards(2)) }
            let wrong = SimulatedCert(cc: "1", phoneNumber: "6505550000", vname: "Other").base64
            await #expect(throws: APIError.self) { _ = try await r.master.setShards(shards(2, cert: wrong)) }
            #expect(try await r.f.store.account()?.state == .loggedOff)
            // The right cert logs it on and sets the shards.
            let cert = SimulatedCert(cc: "1", phoneNumber: "6505551234", vname: "Fixture").base64
            _ = try await r.master.setShards(shards(2, cert: cert))
            let after = try #require(try await r.f.store.account())
            #expect(after.state == .registered && after.shards == 2)
            #expect(r.f.events().contains { $0.event == "account_logged_on" })
        }
        await r.gateway.close()
    }

    @Test func contactsAreDecidedByTheWhatsAppServerAndNoWaitAnswersProcessingFirst() async throws {
        let r = try await rig()
        var set = GatewayFrame(.admin)
        set.op = "set_contacts"; set.ids = ["16505550101"]; set.absent = ["16505550102"]
        _ = r.state.admin(set)
        try await withSideWork(r.rt) {
            let waited = try await r.master.checkContacts(.init(contacts: ["+1 (650) 555-0101", "16505550102", "call me"], wait: true))
            #expect(waited.contacts == [.init(input: "+1 (650) 555-0101", status: "valid", waID: "16505550101"),
                                        .init(input: "16505550102", status: "invalid", waID: nil),
                                        .init(input: "call me", status: "invalid", waID: nil)])
            // Not looked up yet: processing, and looked up on the side.
            let first = try await r.master.checkContacts(.init(contacts: ["+16505550199"], wait: false))
            #expect(first.contacts.map(\.status) == ["processing"])
            #expect(await settles { (try? await r.master.checkContacts(.init(contacts: ["+16505550199"], wait: false)))?.contacts.first?.status != "processing" })
        }
        await r.gateway.close()
    }

    @Test func theSeededAnswerIsTheSameForTheSameSeed() {
        let numbers = (0..<200).map { "1650555\(String(format: "%04d", $0))" }
        let a = numbers.map { GatewayState.onWhatsApp($0, seed: 7) }
        #expect(a == numbers.map { GatewayState.onWhatsApp($0, seed: 7) })
        #expect(a != numbers.map { GatewayState.onWhatsApp($0, seed: 8) })
        let absent = a.filter { !$0 }.count
        #expect((5...40).contains(absent), "about a tenth of the numbers are not on WhatsApp; got \(absent) of 200")
    }

    @Test func aRestoredAccountOfAnotherNumberIsRefused() async throws {
        let r = try await rig()
        try await withSideWork(r.rt) {
            await #expect {
                _ = try await r.master.restoreAccount(.init(cc: "1", phoneNumber: "6505550000", vname: "Other", shards: 1))
            } throws: { ($0 as? APIError)?.code == APIErrorCode.alreadyExists.rawValue }
            _ = try await r.master.restoreAccount(.init(cc: "1", phoneNumber: "6505551234", vname: "Restored", shards: 2))
            #expect(try await r.f.store.account()?.vname == "Restored")
            #expect(try await r.f.store.shardMap().shardCount == 2)
        }
        await r.gateway.close()
    }

    @Test func aFailedOverCoreappIsPagedToTheOnCallPager() async throws {
        let r = try await rig()
        r.f.peers.answerHeartbeats(at: r.core.rpcAddress)
        let pages = Locked<[NodeRPC.SendMessage.Params]>([])
        r.f.peers.answer(NodeRPC.SendMessage.self) { p, _ in pages.withLock { $0.append(p) }; return .init(id: "gBEGpage") }
        let s = try ApplicationSettings().applying(patch: ["on_call_pager": .string("+16505550999"),
                                                            "webhooks": .object(["url": .string("http://127.0.0.1:9/hook")])])
        _ = try await r.f.store.saveSettings(s)
        try await r.rt.refreshSettings()
        try await withSideWork(r.rt) {
            var owned = false
            for _ in 0..<10 where !owned {
                r.f.clock.advance(by: r.rt.timings.tick)
                await r.master.renewLease()
                await r.master.step()
                owned = try await r.f.store.shardMap().shard(ownedBy: "c1") != nil
            }
            #expect(owned, "wacore1 was never promoted")
            #expect(pages.value.isEmpty)
            // One master: DB-based monitoring fails wacore1 over once its DB heartbeat row (never
            // rewritten here) is 120 logical s old.
            for _ in 0..<200 where pages.value.isEmpty {
                r.f.clock.advance(by: r.rt.timings.tick)
                await r.master.renewLease()
                await r.master.step()
                if r.f.events().contains(where: { $0.event == "coreapp_unhealthy" }) { _ = await settles(within: 2) { !pages.value.isEmpty } }
            }
            let page = try #require(pages.value.first, "no page reached the pager's shard owner: \(r.f.events().map(\.event))")
            #expect(page.to == "16505550999")
            #expect(page.body.contains("CRITICAL") && page.body.contains("wacore1"))
            #expect(page.idempotencyKey?.hasPrefix("on_call_pager/unhealthy/c1/") == true)
        }
        await r.gateway.close()
    }
}
