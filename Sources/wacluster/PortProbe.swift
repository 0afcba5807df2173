import Foundation
import WACore

/// Checks a port is free before a server that cannot report bind errors clearly starts on it.
enum PortProbe {
    static func ensureFree(host: String, port: Int, variable: String) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        // As the server itself will: connections of a previous process in TIME_WAIT (a node
        // restarted at once) do not make the port busy; a live listener still does.
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr(host)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0, errno == EADDRINUSE {
            throw ConfigError(.portInUse, variable: variable, detail: "port \(port) is already in use; choose another port or stop the process using it")
        }
    }
}
