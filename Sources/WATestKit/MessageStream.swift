import Foundation
import NIOCore
import WACore
import WAWire

/// A client sending messages at a steady pace from several concurrent senders, recording
/// which were accepted (201 and an id) and which were refused, for exactly-once checks.
public final class MessageStream: @unchecked Sendable {
    public struct Accepted: Sendable { public var id: String; public var to: String; public var at: Double }
    /// Every attempt: when, to whom, and whether it was accepted (for availability over time).
    public struct Attempt: Sendable { public var at: Double; public var to: String; public var accepted: Bool }
    private let lock = NSLock()
    public private(set) var accepted: [Accepted] = []
    public private(set) var refused: [Int: Int] = [:]
    public private(set) var errors = 0
    public private(set) var attempts: [Attempt] = []
    private var stopped = false

    public init() {}

    public func stop() { lock.withLock { stopped = true } }
    var isStopped: Bool { lock.withLock { stopped } }

    /// The default recipients: `count` numbers spread over every shard.
    public static func recipients(_ count: Int = 200) -> [String] { (0..<count).map { "1555\(String(format: "%07d", $0))" } }

    /// Sends until `stop()`; each sender waits `interval` real seconds between messages.
    public func run(cluster: LocalCluster, senders: Int, interval: Double, recipients: [String] = MessageStream.recipients()) async {
        await withTaskGroup(of: Void.self) { group in
            for s in 0..<senders {
                group.addTask {
                    var n = 0
                    while !self.isStopped {
                        n += 1
                        let to = recipients[(s * 7919 + n) % recipients.count]
                        let body: JSONValue = .object(["to": .string(to), "type": .string("text"), "text": .object(["body": .string("stream \(s)-\(n)")])])
                        do {
                            let r = try await cluster.api("POST", "/v1/messages", body: body, timeout: 10)
                            let now = Date().timeIntervalSince1970
                            if r.status == 201, case .array(let m)? = r.json?["messages"], let id = m.first?["id"]?.stringValue {
                                self.lock.withLock {
                                    self.accepted.append(Accepted(id: id, to: to, at: now))
                                    self.attempts.append(Attempt(at: now, to: to, accepted: true))
                                }
                            } else {
                                self.lock.withLock {
                                    self.refused[r.status, default: 0] += 1
                                    self.attempts.append(Attempt(at: now, to: to, accepted: false))
                                }
                            }
                        } catch {
                            self.lock.withLock {
                                self.errors += 1
                                self.attempts.append(Attempt(at: Date().timeIntervalSince1970, to: to, accepted: false))
                            }
                        }
                        try? await Polling.pause(seconds: interval)
                    }
                }
            }
        }
    }
}
