import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Aborts sockets the way a crashed peer or a middlebox reset would: SO_LINGER with a zero
/// timeout makes close() send an RST instead of a FIN, so the peer sees "connection reset".
enum SocketAbort {
    /// Arms every socket for RST first and only then closes them, so that closing one (which makes
    /// its partner close too) cannot send a polite FIN on a socket not yet armed.
    static func abort(_ sockets: [Channel], on eventLoop: EventLoop) {
        let armed = sockets.map { socket -> EventLoopFuture<Void> in
            guard let options = socket as? SocketOptionProvider else {
                return eventLoop.makeSucceededVoidFuture()
            }
            return options.setSoLinger(linger(l_onoff: 1, l_linger: 0))
        }
        EventLoopFuture.whenAllComplete(armed, on: eventLoop).whenComplete { _ in
            for socket in sockets {
                socket.close(promise: nil)
            }
        }
    }
}
