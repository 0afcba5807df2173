import WACore
/// The proxy's active fault as every connection sees it. Relays consult it for each chunk they
/// read, so a fault applies to every byte read after `apply` returns, without waiting for the
/// event loops to be told; the generation tells a relay that it must reset its pacing state.
final class FaultBoard: Sendable {
    struct Entry: Sendable {
        var fault: LinkFault?
        var generation: UInt64
    }

    private let entry = Locked(Entry(fault: nil, generation: 0))

    var current: Entry { entry.withLock { $0 } }

    func set(_ fault: LinkFault?) {
        entry.withLock {
            $0.fault = fault
            $0.generation &+= 1
        }
    }
}
