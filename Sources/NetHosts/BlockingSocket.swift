import Foundation

/// Plain blocking TCP sockets on a thread of their own: what the link benchmark measures with
/// (no event loop between the wire and the clock) and what the kernel-rule tests probe with,
/// from threads moved into a host's namespace.
public final class BlockingSocket: Sendable {
    public let fd: Int32

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case refused
        case timedOut
        case closed
        case system(String, Int32)
        public var description: String {
            switch self {
            case .refused: "connection refused"
            case .timedOut: "timed out"
            case .closed: "connection closed"
            case .system(let call, let e): "\(call): \(String(cString: strerror(e)))"
            }
        }
    }

    init(fd: Int32) { self.fd = fd }
    /// Takes ownership of a descriptor (a dup handed to another thread).
    public init(adopting fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    private static func address(_ host: String, _ port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        a.sin_addr.s_addr = inet_addr(host)
        return a
    }

    /// A listening socket on `host:port` (0: any free port), and the port it got.
    public static func listen(host: String, port: Int = 0) throws(Failure) -> (BlockingSocket, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", errno) }
        let s = BlockingSocket(fd: fd)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var a = address(host, port)
        let bound = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else { throw .system("bind \(host):\(port)", errno) }
        guard Glibc.listen(fd, 64) == 0 else { throw .system("listen", errno) }
        var got = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &got) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return (s, Int(UInt16(bigEndian: got.sin_port)))
    }

    /// The next connection (blocks).
    public func accept() throws(Failure) -> BlockingSocket {
        let c = Glibc.accept(fd, nil, nil)
        guard c >= 0 else { throw .system("accept", errno) }
        var one: Int32 = 1
        setsockopt(c, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return BlockingSocket(fd: c)
    }

    /// Connects within `timeout` seconds: `.refused` for a reset or an ICMP error, `.timedOut`
    /// for silence (a dropped SYN).
    public static func connect(host: String, port: Int, timeout: Double) throws(Failure) -> BlockingSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw .system("socket", errno) }
        let s = BlockingSocket(fd: fd)
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        var a = address(host, port)
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        if r != 0 {
            guard errno == EINPROGRESS else { throw errno == ECONNREFUSED ? .refused : .system("connect", errno) }
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&p, 1, Int32(timeout * 1000))
            guard ready > 0 else { throw .timedOut }
            var err: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len)
            if err == ECONNREFUSED || err == ECONNRESET || err == EHOSTUNREACH { throw .refused }
            if err != 0 { throw .system("connect", err) }
        }
        _ = fcntl(fd, F_SETFL, flags)
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return s
    }

    /// Writes all of `bytes`.
    public func send(_ bytes: UnsafeRawBufferPointer) throws(Failure) {
        var sent = 0
        while sent < bytes.count {
            let n = Glibc.send(fd, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            if n < 0 { if errno == EINTR { continue }; throw .system("send", errno) }
            sent += n
        }
    }

    /// Reads exactly `buffer.count` bytes.
    public func receive(into buffer: UnsafeMutableRawBufferPointer) throws(Failure) {
        var got = 0
        while got < buffer.count {
            let n = recv(fd, buffer.baseAddress! + got, buffer.count - got, 0)
            if n == 0 { throw .closed }
            if n < 0 { if errno == EINTR { continue }; throw .system("recv", errno) }
            got += n
        }
    }

    /// Reads whatever arrives (up to the buffer's size); 0 at end of stream.
    public func receiveSome(into buffer: UnsafeMutableRawBufferPointer) throws(Failure) -> Int {
        while true {
            let n = recv(fd, buffer.baseAddress!, buffer.count, 0)
            if n < 0 { if errno == EINTR { continue }; throw .system("recv", errno) }
            return n
        }
    }
}
