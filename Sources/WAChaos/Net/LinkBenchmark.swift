import Foundation
import LinkProxy
import NetHosts
import ProcessSupervisor
import WACore
import WATestKit

/// `wachaos bench links`: what one hop costs. Round trips of a small message and a one-way bulk
/// stream through each path, measured in the same run: a direct loopback connection (the
/// baseline), one hop through the proxy mesh's `LinkProxy`, a socat relay (an independent
/// userspace relay), and a veth path between two network namespaces through the hub's bridge.
/// Blocking sockets on threads of their own: no event loop between the wire and the clock.
public struct LinkBenchmark {
    public struct Options: Sendable {
        public var roundTrips = 20_000
        public var warmup = 2_000
        public var messageBytes = 64
        public var bulkBytes = 64 << 20
        public var rounds = 3
        public init() {}
    }

    public struct PathResult: Codable, Sendable {
        public var path: String
        public var p50Microseconds: Double
        public var p99Microseconds: Double
        /// p50 minus the direct connection's p50 in the same run.
        public var addedP50Microseconds: Double
        public var addedP99Microseconds: Double
        public var megabytesPerSecond: Double
        /// Throughput as a share of the direct connection's.
        public var throughputRatio: Double
        public var note: String?
    }

    public struct Result: Codable, Sendable {
        public var paths: [PathResult]
        public var method: String
        /// Toxiproxy's claim for one hop, the target for ours.
        public var proxyTargetAddedP50Microseconds = 100.0
        public var proxyMeetsTarget: Bool
    }

    let options: Options
    let supervisor: Supervisor
    public init(options: Options, supervisor: Supervisor) { self.options = options; self.supervisor = supervisor }

    struct Figures { var p50: Double; var p99: Double; var mbps: Double }

    /// One echo-and-sink server: 'E' then echo fixed-size messages; 'S' then read to end of stream and answer one byte.
    static func serve(_ listener: BlockingSocket, messageBytes: Int) {
        let fd = dup(listener.fd)
        Thread {
            let server = BlockingSocket(adopting: fd)
            while let c = try? server.accept() {
                let conn = dup(c.fd)
                Thread {
                    let s = BlockingSocket(adopting: conn)
                    var mode: UInt8 = 0
                    guard (try? withUnsafeMutableBytes(of: &mode) { try s.receive(into: $0) }) != nil else { return }
                    var buffer = [UInt8](repeating: 0, count: mode == UInt8(ascii: "E") ? messageBytes : 1 << 16)
                    if mode == UInt8(ascii: "E") {
                        while (try? buffer.withUnsafeMutableBytes({ try s.receive(into: $0) })) != nil {
                            guard (try? buffer.withUnsafeBytes({ try s.send($0) })) != nil else { return }
                        }
                    } else {
                        while let n = try? buffer.withUnsafeMutableBytes({ try s.receiveSome(into: $0) }), n > 0 {}
                        var ack: UInt8 = 1
                        try? withUnsafeBytes(of: &ack) { try s.send($0) }
                    }
                }.start()
            }
        }.start()
    }

    /// Measures one path from the calling thread (already in the client's namespace).
    static func measure(host: String, port: Int, options: Options) throws -> Figures {
        let s = try BlockingSocket.connect(host: host, port: port, timeout: 5)
        var e = UInt8(ascii: "E")
        try withUnsafeBytes(of: &e) { try s.send($0) }
        var message = [UInt8](repeating: 7, count: options.messageBytes)
        var samples: [UInt64] = []
        samples.reserveCapacity(options.roundTrips)
        for i in 0..<(options.warmup + options.roundTrips) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try message.withUnsafeBytes { try s.send($0) }
            try message.withUnsafeMutableBytes { try s.receive(into: $0) }
            if i >= options.warmup { samples.append(DispatchTime.now().uptimeNanoseconds - t0) }
        }
        samples.sort()
        let p50 = Double(samples[samples.count / 2]) / 1000, p99 = Double(samples[samples.count * 99 / 100]) / 1000

        let bulk = try BlockingSocket.connect(host: host, port: port, timeout: 5)
        var sink = UInt8(ascii: "S")
        try withUnsafeBytes(of: &sink) { try bulk.send($0) }
        let chunk = [UInt8](repeating: 1, count: 1 << 16)
        let t0 = DispatchTime.now().uptimeNanoseconds
        var sent = 0
        while sent < options.bulkBytes {
            try chunk.withUnsafeBytes { try bulk.send($0) }
            sent += chunk.count
        }
        shutdown(bulk.fd, Int32(SHUT_WR))
        var ack: UInt8 = 0
        try withUnsafeMutableBytes(of: &ack) { try bulk.receive(into: $0) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        return Figures(p50: p50, p99: p99, mbps: Double(sent) / seconds / 1e6)
    }

    /// Runs `body` on a fresh thread, moved into `namespace` first when given.
    static func onThread<T: Sendable>(in namespace: String?, _ body: @escaping @Sendable () throws -> T) throws -> T {
        let box = Locked<Swift.Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            let r = Swift.Result { () throws -> T in
                if let namespace { try NamespaceFabric.enterOnThisThread(namespace) }
                return try body()
            }
            box.withLock { $0 = r }
            done.signal()
        }.start()
        done.wait()
        return try box.value!.get()
    }

    public func run(progress: (String) -> Void) async throws -> Result {
        let o = options
        // The loopback server every loopback path ends at.
        let (listener, echoPort) = try BlockingSocket.listen(host: "127.0.0.1")
        Self.serve(listener, messageBytes: o.messageBytes)

        let proxy = LinkProxy(name: "bench", upstreamHost: "127.0.0.1", upstreamPort: echoPort)
        try await proxy.start()

        var socatPort: Int?
        var socatNote: String?
        if let socat = ["/usr/bin/socat", "/bin/socat"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            let port = PortAllocator.freePorts(1)[0]
            let dir = FileManager.default.temporaryDirectory.path + "/wachaos-bench-links-\(getpid())"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            _ = try supervisor.spawn(ProcessSpec(name: "socat", executable: socat,
                                                 arguments: ["TCP-LISTEN:\(port),bind=127.0.0.1,reuseaddr,fork", "TCP:127.0.0.1:\(echoPort),nodelay"],
                                                 environment: ["PATH": "/usr/bin:/bin"], logFile: dir + "/socat.log"))
            // Ready once it accepts.
            for _ in 0..<200 where socatPort == nil {
                if (try? BlockingSocket.connect(host: "127.0.0.1", port: port, timeout: 0.1)) != nil { socatPort = port } else { try await Polling.pause(seconds: 0.02) }
            }
            if socatPort == nil { socatNote = "socat did not start listening; see \(dir)/socat.log" }
        } else {
            socatNote = "socat is not installed (apt-get install socat)"
        }

        // Two hosts on the hub's bridge, when this process may make them.
        var veth: (client: NamespaceHost, server: NamespaceHost, port: Int)?
        var vethNote: String?
        let tag = RunTag.current()
        let readiness = HostReadiness.probe()
        if readiness.canHostNamespaces {
            try NamespaceFabric.createHub(tag: tag)
            let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            try NamespaceJanitor.start(executable: exe, tag: tag)
            let fabric = NamespaceFabric(tag: tag, features: KernelFeatures())
            let hosts = try fabric.addHosts(cluster: 1, names: ["client", "server"])
            let server = hosts["server"]!
            let port = try Self.onThread(in: server.path) { () -> Int in
                let (l, port) = try BlockingSocket.listen(host: server.address)
                Self.serve(l, messageBytes: o.messageBytes)
                return port
            }
            veth = (hosts["client"]!, server, port)
        } else {
            vethNote = "no namespaces: " + readiness.missingRequired.map(\.rawValue).joined(separator: ", ") + readiness.missingTools.joined(separator: ", ")
        }
        defer { if veth != nil { NamespaceSweeper.removeRun(tag) } }

        var paths: [(name: String, namespace: String?, host: String, port: Int)] = [("direct loopback", nil, "127.0.0.1", echoPort),
                                                                                       ("proxy mesh (LinkProxy)", nil, "127.0.0.1", proxy.listenPort)]
        if let socatPort { paths.append(("socat relay", nil, "127.0.0.1", socatPort)) }
        if let veth { paths.append(("netns veth via bridge", veth.client.path, veth.server.address, veth.port)) }

        var figures: [String: [Figures]] = [:]
        for round in 1...o.rounds {
            for p in paths {
                let f = try Self.onThread(in: p.namespace) { try Self.measure(host: p.host, port: p.port, options: o) }
                figures[p.name, default: []].append(f)
                progress(String(format: "round %d: %@: p50 %.1f µs, p99 %.1f µs, %.0f MB/s", round, p.name, f.p50, f.p99, f.mbps))
            }
        }
        await proxy.stop()
        func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }
        let direct = figures["direct loopback"]!
        let base = Figures(p50: median(direct.map(\.p50)), p99: median(direct.map(\.p99)), mbps: median(direct.map(\.mbps)))
        var results: [PathResult] = []
        for p in paths {
            let fs = figures[p.name]!
            let f = Figures(p50: median(fs.map(\.p50)), p99: median(fs.map(\.p99)), mbps: median(fs.map(\.mbps)))
            results.append(PathResult(path: p.name, p50Microseconds: f.p50, p99Microseconds: f.p99, addedP50Microseconds: f.p50 - base.p50,
                                      addedP99Microseconds: f.p99 - base.p99, megabytesPerSecond: f.mbps, throughputRatio: f.mbps / base.mbps, note: nil))
        }
        if let socatNote { results.append(PathResult(path: "socat relay", p50Microseconds: 0, p99Microseconds: 0, addedP50Microseconds: 0, addedP99Microseconds: 0, megabytesPerSecond: 0, throughputRatio: 0, note: socatNote)) }
        if let vethNote { results.append(PathResult(path: "netns veth via bridge", p50Microseconds: 0, p99Microseconds: 0, addedP50Microseconds: 0, addedP99Microseconds: 0, megabytesPerSecond: 0, throughputRatio: 0, note: vethNote)) }
        let method = "\(o.rounds) interleaved rounds per path, medians shown; per round \(o.roundTrips) round trips of \(o.messageBytes) B after \(o.warmup) warm-up, then \(o.bulkBytes >> 20) MiB one way in 64 KiB writes; blocking sockets, TCP_NODELAY, one client thread; added = path minus the direct loopback connection of the same run"
        let proxyAdded = results.first { $0.path.hasPrefix("proxy") }?.addedP50Microseconds ?? .infinity
        return Result(paths: results, method: method, proxyMeetsTarget: proxyAdded <= 100)
    }
}
