import Foundation
import Testing
@testable import NetHosts

/// Runs `body` on a thread of its own moved into the namespace at `path`.
func inNamespace<T: Sendable>(_ path: String, _ body: @escaping @Sendable () throws -> T) throws -> T {
    let result = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Thread {
        result.set(Result { try NamespaceFabric.enterOnThisThread(path); return try body() })
        done.signal()
    }.start()
    done.wait()
    return try result.get()
}

final class ResultBox<T: Sendable>: @unchecked Sendable {
    // Written once by the worker thread before it signals, read after the wait.
    private var value: Result<T, any Error>?
    func set(_ r: Result<T, any Error>) { value = r }
    func get() throws -> T { try value!.get() }
}

/// The kernel's side, for real: namespaces, veths on the hub's bridge, rules that cut, refuse
/// and shape, and heals that leave exactly what was there. Needs root (or CAP_NET_ADMIN and
/// CAP_SYS_ADMIN) and ip, nft and tc, as CI has.
@Suite(.serialized, .enabled(if: HostReadiness.probe().canHostNamespaces, "needs CAP_NET_ADMIN, CAP_SYS_ADMIN, ip, nft and tc"))
struct NamespaceFabricTests {
    enum Probe: Equatable, Sendable { case connected, refused, timedOut, other(String) }

    static func probe(_ from: NamespaceHost, _ to: NamespaceHost, port: Int) -> Probe {
        do {
            return try inNamespace(from.path) {
                do throws(BlockingSocket.Failure) {
                    _ = try BlockingSocket.connect(host: to.address, port: port, timeout: 0.5)
                    return .connected
                } catch {
                    switch error {
                    case .refused: return .refused
                    case .timedOut: return .timedOut
                    default: return .other("\(error)")
                    }
                }
            }
        } catch { return .other("\(error)") }
    }

    @Test func rulesCutRefuseAndShapeAndAHealLeavesExactlyWhatWasThere() throws {
        let tag = RunTag.current()
        try NamespaceFabric.createHub(tag: tag)
        defer { NamespaceSweeper.removeRun(tag) }
        let features = try KernelFeatures.probe(tag: tag)
        #expect(features.nftables && features.reject && features.numgen)
        let fabric = NamespaceFabric(tag: tag, features: features)
        let hosts = try fabric.addHosts(cluster: 7, names: ["a", "b"])
        let a = try #require(hosts["a"]), b = try #require(hosts["b"])
        #expect(a.address == "198.18.7.2" && b.address == "198.18.7.3")
        #expect(NamespaceSweeper.namespaces(of: tag).contains(a.namespace))

        // A listener in b, accepting forever on its own address.
        let (port, listening) = try inNamespace(b.path) { () -> (Int, Int32) in
            let (listener, port) = try BlockingSocket.listen(host: b.address)
            let fd = dup(listener.fd)
            Thread { while true { let c = Glibc.accept(fd, nil, nil); if c < 0 { break }; close(c) } }.start()
            return (port, fd)
        }
        // Ends the accepting thread.
        defer { shutdown(listening, Int32(SHUT_RDWR)); close(listening) }
        let before = try fabric.kernelState(of: "a")
        #expect(Self.probe(a, b, port: port) == .connected)

        let bBefore = try fabric.kernelState(of: "b")
        #expect(Self.probe(b, a, port: 1) == .refused) // nothing listens on a: its stack answers with a reset
        try fabric.setRules(["a": [.drop(to: b.address)]])
        #expect(Self.probe(a, b, port: port) == .timedOut)
        // One way, from a to b: the rule lives in a alone, and a's answers to b are its packets too.
        #expect(try fabric.kernelState(of: "b") == bBefore)
        #expect(Self.probe(b, a, port: 1) == .timedOut)

        try fabric.setRules(["a": [.reject(to: b.address)]])
        #expect(Self.probe(a, b, port: port) == .refused)

        try fabric.setRules(["a": [.loss(to: b.address, percent: 100)]])
        #expect(Self.probe(a, b, port: port) == .timedOut)

        try fabric.setRules(["a": [.shape(to: b.address, bytesPerSecond: 100_000)]])
        let shaped = try fabric.kernelState(of: "a")
        #expect(shaped.contains("htb") && shaped.contains("tbf"))
        #expect(Self.probe(a, b, port: port) == .connected)

        try fabric.setRules(["a": []])
        #expect(try fabric.kernelState(of: "a") == before)
        #expect(Self.probe(a, b, port: port) == .connected)

        fabric.removeHosts(cluster: 7)
        #expect(!NamespaceSweeper.namespaces(of: tag).contains(a.namespace))
    }

    @Test func theSweeperRemovesOnlyWhatDeadRunsLeft() throws {
        let dead = RunTag(pid: RunTag.current().pid, startTicks: RunTag.current().startTicks + 17)
        let live = RunTag.current()
        for ns in [dead.namespace(cluster: 1, host: "x"), live.namespace(cluster: 99, host: "y")] {
            _ = try HostCommand.run(["ip", "netns", "add", ns])
        }
        defer { NamespaceSweeper.removeRun(live); NamespaceSweeper.removeRun(dead) }
        #expect(NamespaceSweeper.stale().contains(dead.namespace(cluster: 1, host: "x")))
        #expect(!NamespaceSweeper.stale().contains(live.namespace(cluster: 99, host: "y")))
        // Only its own: other runs on this machine keep theirs.
        let removed = NamespaceSweeper.remove(NamespaceSweeper.stale().filter { RunTag.parse(namespace: $0) == dead }).removed
        #expect(removed == [dead.namespace(cluster: 1, host: "x")])
        #expect(NamespaceSweeper.runNamespaces().contains(live.namespace(cluster: 99, host: "y")))
    }
}
