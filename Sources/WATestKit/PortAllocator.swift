import Foundation
import WACore

/// Hands out free loopback ports for nodes. They come from below the kernel's ephemeral range
/// (which starts at 32768), so a port handed out here is never taken meanwhile by an
/// ephemeral bind such as a link proxy's listener or an outgoing connection. Each process
/// starts at a pid-derived offset so parallel runs rarely probe the same ports.
public enum PortAllocator {
    private struct State {
        var handedOut = Set<Int>()
        var cursor = range.lowerBound + Int(getpid() * 977) % range.count
    }
    private static let state = Locked(State())
    static let range = 20_000..<32_000

    public static func freePorts(_ count: Int) -> [Int] {
        state.withLock { s in
            var out: [Int] = []
            var tried = 0
            while out.count < count, tried < range.count {
                tried += 1
                s.cursor = s.cursor + 1 >= range.upperBound ? range.lowerBound : s.cursor + 1
                if !s.handedOut.contains(s.cursor), isFree(s.cursor) { s.handedOut.insert(s.cursor); out.append(s.cursor) }
            }
            return out
        }
    }

    private static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 } }
    }

    private static func probe() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        return ok ? Int(UInt16(bigEndian: addr.sin_port)) : 0
    }
}

/// Finds the `wacluster` binary: `WACLUSTER_BIN`, else next to the running executable (the
/// test bundle or `wachaos` live in the same build folder), else `.build/debug`.
public enum BinaryLocator {
    public static func wacluster() -> String? {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["WACLUSTER_BIN"], fm.isExecutableFile(atPath: env) { return env }
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
            for _ in 0..<4 {
                let candidate = dir.appendingPathComponent("wacluster").path
                if fm.isExecutableFile(atPath: candidate) { return candidate }
                dir = dir.deletingLastPathComponent()
            }
        }
        for c in [".build/debug/wacluster", ".build/release/wacluster"] where fm.isExecutableFile(atPath: c) {
            return fm.currentDirectoryPath + "/" + c
        }
        return nil
    }
}
