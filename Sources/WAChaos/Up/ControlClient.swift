import Foundation
import NIOPosix
import WACore
import WATestKit
import WAWire

/// The client side of the control API, for `wachaos fault`, `status`, `watch` and friends: finds
/// the session from its `session.json` and speaks to it on loopback with its token.
public struct ControlClient: Sendable {
    public let info: SessionInfo
    public let file: String

    /// The session file: `--session`, else `$WACHAOS_SESSION`, else the runs folder's latest.
    public static func sessionFile(_ given: String?, runsDirectory: String = "runs") -> String {
        given ?? ProcessInfo.processInfo.environment["WACHAOS_SESSION"] ?? "\(runsDirectory)/\(SessionInfo.latestFileName)"
    }

    /// Reads a session file; fails naming the file when there is no running session behind it.
    public init(sessionFile file: String, requireRunning: Bool = true) throws {
        self.file = file
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ControlError(.noSession, "no session file at \(file); start one with `wachaos up`, or name it with --session FILE (or WACHAOS_SESSION)")
        }
        do { info = try JSONCodec.decode(SessionInfo.self, from: data) }
        catch { throw ControlError(.noSession, "\(file) is not a session file: \(error)") }
        if requireRunning, kill(info.pid, 0) != 0 {
            throw ControlError(.noSession, "the session in \(file) (pid \(info.pid)) has ended; its folder is \(info.directory)")
        }
    }

    var address: HostPort {
        get throws {
            guard let url = URL(string: info.control), let host = url.host, let port = url.port else {
                throw ControlError(.noSession, "\(file): control address \(info.control) is not http://HOST:PORT")
            }
            return HostPort(host: host, port: port)
        }
    }

    /// One call; a refused one throws the session's error.
    public func call(_ method: String, _ path: String, body: String? = nil, timeout: Double = 600) async throws -> HTTPResult {
        let r: HTTPResult
        do {
            r = try await SimpleHTTPClient.request(method, try address, path: path, headers: ["Authorization": "Bearer \(info.token)", "Content-Type": "text/plain"],
                                                   body: body.map { Data($0.utf8) }, group: MultiThreadedEventLoopGroup.singleton, timeout: timeout)
        } catch let e as ControlError {
            throw e
        } catch {
            throw ControlError(.noSession, "the session at \(info.control) did not answer: \(error)")
        }
        guard (200..<300).contains(r.status) else {
            if let e = r.json?["error"], let code = e["code"]?.stringValue.flatMap(ControlError.Code.init(rawValue:)) {
                throw ControlError(code, e["message"]?.stringValue ?? r.text)
            }
            throw ControlError(.badRequest, "\(method) \(path) answered \(r.status): \(r.text.prefix(300))")
        }
        return r
    }

    public func status() async throws -> SessionStatus {
        let r = try await call("GET", "/v1/status", timeout: 10)
        return try JSONCodec.decode(SessionStatus.self, from: r.body)
    }

    public func step(_ text: String) async throws -> StepAnswer {
        let r = try await call("POST", "/v1/steps", body: text)
        return try JSONCodec.decode(StepAnswer.self, from: r.body)
    }

    /// Whether the session's process is still there.
    public var isRunning: Bool { kill(info.pid, 0) == 0 }

    /// Waits until the session's process has gone; false when it is still there at `timeout`.
    public func waitForEnd(timeout: Double) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning, Date() < deadline { try await Polling.pause(seconds: 0.2) }
        return !isRunning
    }

    /// The live view from another terminal until the session ends: a screen redrawn in place,
    /// or one line per change.
    public func watch(interval: Double, screen: Bool, write: (String) -> Void) async throws {
        if screen { write("\u{1B}[2J") }
        var last = ""
        while true {
            let s: SessionStatus
            do { s = try await status() } catch let e as ControlError where e.code == .noSession { return }
            if screen {
                let size = LiveView.terminalSize() ?? (120, 50)
                write(LiveView.redraw(LiveView.screen(s, width: size.width, height: size.height)))
            } else {
                let line = LiveView.line(s)
                if line != last { write("[\(String(format: "%.1f", s.uptime))s] \(line)\n"); last = line }
            }
            try await Polling.pause(seconds: max(0.2, interval))
        }
    }
}
