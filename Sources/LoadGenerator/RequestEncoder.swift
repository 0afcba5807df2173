import NIOCore

/// Renders the request head once; per request it writes that head, the body's length and the
/// body into one buffer.
struct RequestEncoder: Sendable {
    /// Everything up to and including "Content-Length: ".
    let prefix: [UInt8]
    let body: @Sendable (Int) -> [UInt8]
    let isHead: Bool

    init(template: RequestTemplate, host: String, port: Int) {
        var head = "\(template.method) \(template.path) HTTP/1.1\r\n"
        let hasHost = template.headers.contains { $0.0.lowercased() == "host" }
        if !hasHost {
            let hostPart = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
            head += "Host: \(hostPart):\(port)\r\n"
        }
        for (name, value) in template.headers {
            let lowered = name.lowercased()
            if lowered == "content-length" || lowered == "transfer-encoding" { continue }
            head += "\(name): \(value)\r\n"
        }
        head += "Content-Length: "
        prefix = Array(head.utf8)
        body = template.body
        isHead = template.method.uppercased() == "HEAD"
    }

    /// The whole request with sequence number `sequence`.
    func makeRequest(sequence: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        let payload = body(sequence)
        var buffer = allocator.buffer(capacity: prefix.count + 24 + payload.count)
        buffer.writeBytes(prefix)
        Self.writeDecimal(payload.count, into: &buffer)
        buffer.writeStaticString("\r\n\r\n")
        buffer.writeBytes(payload)
        return buffer
    }

    static func writeDecimal(_ value: Int, into buffer: inout ByteBuffer) {
        precondition(value >= 0)
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { raw in
            var index = raw.count
            var rest = value
            repeat {
                index -= 1
                raw[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: raw[index...]))
        }
    }
}
