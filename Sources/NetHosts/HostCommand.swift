import Foundation
import ProcessSupervisor
import WACore

/// Runs `ip`, `nft`, `tc` and `ss`: short programs the runner starts and waits for.
public enum HostCommand {
    public struct Outcome: Sendable {
        public var status: Int32
        public var output: String
        public var errors: String
    }

    static let searchPath = "/usr/sbin:/usr/bin:/sbin:/bin"

    /// Runs `argv` (a tool name, then its arguments) with `input` on stdin; never throws for a
    /// non-zero exit (see `run`), only when it cannot start.
    public static func outcome(_ argv: [String], input: String? = nil) throws -> Outcome {
        let tool = argv[0]
        guard let path = searchPath.split(separator: ":").map({ "\($0)/\(tool)" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw NetHostsError(.missingTool, "\(tool) is not installed (looked in \(searchPath)); install \(tool == "nft" ? "nftables" : "iproute2")")
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = Array(argv.dropFirst())
        p.environment = ["PATH": searchPath, "LC_ALL": "C"]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        // Input from a file, not a pipe: a tool that exits before reading it (a namespace gone)
        // must not raise SIGPIPE in the runner.
        var inputFile: String?
        if let input {
            let path = NSTemporaryDirectory() + "wachaos-\(argv[0])-\(getpid())-\(UInt32.random(in: 0 ... .max)).in"
            guard FileManager.default.createFile(atPath: path, contents: Data(input.utf8), attributes: [.posixPermissions: 0o600]),
                  let handle = FileHandle(forReadingAtPath: path) else {
                throw NetHostsError(.commandFailed, "cannot write the input of `\(argv.joined(separator: " "))` to \(path)")
            }
            inputFile = path
            p.standardInput = handle
        } else {
            p.standardInput = FileHandle.nullDevice
        }
        defer { if let inputFile { try? FileManager.default.removeItem(atPath: inputFile) } }
        // Registered as it starts, so a supervisor's orphan sweep never reaps it under us.
        let pid = try ForeignChildren.start { try p.run(); return p.processIdentifier }
        defer { ForeignChildren.finished(pid) }
        // Read both before waiting: a full pipe would block the child forever.
        let errors = Locked(Data())
        let readErrors = DispatchSemaphore(value: 0)
        Thread {
            let d = err.fileHandleForReading.readDataToEndOfFile()
            errors.withLock { $0 = d }
            readErrors.signal()
        }.start()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        readErrors.wait()
        return Outcome(status: p.terminationStatus, output: String(decoding: output, as: UTF8.self),
                       errors: String(decoding: errors.value, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Runs `argv` and throws `COMMAND_FAILED` with its stderr when it exits non-zero.
    @discardableResult
    public static func run(_ argv: [String], input: String? = nil) throws -> String {
        let r = try outcome(argv, input: input)
        guard r.status == 0 else {
            throw NetHostsError(.commandFailed, "`\(argv.joined(separator: " "))` exited \(r.status): \(r.errors.isEmpty ? "no message" : r.errors)")
        }
        return r.output
    }
}
