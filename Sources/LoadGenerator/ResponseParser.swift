import NIOCore

/// One complete HTTP/1.1 answer, as much of it as the load generator keeps.
struct ParsedResponse: Equatable {
    var status: Int
    /// False when the server will close after this answer (`Connection: close`, HTTP/1.0
    /// without keep-alive, or a body delimited by the end of the connection).
    var keepAlive: Bool
    /// The first `captureLimit` bytes of a 2xx body, de-chunked; empty otherwise.
    var body: [UInt8]
    var bodyLength: Int
}

/// An incremental HTTP/1.1 response parser that allocates nothing per answer except the captured
/// body: it frames by Content-Length, chunked transfer coding (extensions and trailers skipped),
/// no body (1xx, 204, 304, answers to HEAD) or the end of the connection, and skips interim 1xx
/// answers. Headers other than Content-Length, Transfer-Encoding and Connection are not kept.
struct ResponseParser {
    enum ParseError: Error, Equatable {
        case badStatusLine
        case badHeader
        case badContentLength
        case badChunk
        case lineTooLong
    }

    private enum State {
        case statusLine
        case headers
        case body(remaining: Int)
        case chunkSize
        case chunkData(remaining: Int)
        case chunkDataEnd
        case trailers
        case untilClose
    }

    static let maxLineLength = 16 * 1024

    let captureLimit: Int
    /// The requests are HEAD requests: no answer has a body.
    let bodiless: Bool

    private var state: State = .statusLine
    /// Bytes of a line split across reads, and a spare to swap with (both keep their capacity).
    private var line: [UInt8] = []
    private var spare: [UInt8] = []

    private var status = 0
    private var http11 = true
    private var contentLength: Int?
    private var chunked = false
    private var connectionClose = false
    private var connectionKeepAlive = false
    private var capture = false
    private var body: [UInt8] = []
    private var bodyLength = 0

    init(captureLimit: Int, bodiless: Bool = false) {
        self.captureLimit = max(0, captureLimit)
        self.bodiless = bodiless
        line.reserveCapacity(256)
        spare.reserveCapacity(256)
    }

    /// True between answers: nothing of a next answer has been read.
    var isIdle: Bool {
        if case .statusLine = state, line.isEmpty { return true }
        return false
    }

    /// Forgets any partial answer (for a new connection).
    mutating func reset() {
        state = .statusLine
        line.removeAll(keepingCapacity: true)
        resetMessage()
    }

    /// Reads from `buffer` until one answer is complete (returned) or the buffer is empty (nil).
    /// Call again while it returns answers.
    mutating func next(_ buffer: inout ByteBuffer) throws -> ParsedResponse? {
        guard buffer.readableBytes > 0 else { return nil }
        let (consumed, response) = try buffer.withUnsafeReadableBytes { bytes in
            try self.step(bytes)
        }
        buffer.moveReaderIndex(forwardBy: consumed)
        return response
    }

    /// The connection ended: completes an answer whose body runs to the end of the connection.
    mutating func finish() -> ParsedResponse? {
        if case .untilClose = state { return complete(keepAlive: false) }
        return nil
    }

    // MARK: Stepping

    private mutating func step(_ bytes: UnsafeRawBufferPointer) throws -> (Int, ParsedResponse?) {
        var index = 0
        let end = bytes.count
        while index < end {
            switch state {
            case .statusLine, .headers, .chunkSize, .chunkDataEnd, .trailers:
                var lf = index
                while lf < end && bytes[lf] != 0x0A { lf += 1 }
                if lf == end {
                    guard line.count + (end - index) <= Self.maxLineLength else { throw ParseError.lineTooLong }
                    line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<end]))
                    return (end, nil)
                }
                let done: ParsedResponse?
                if line.isEmpty {
                    done = try processLine(UnsafeRawBufferPointer(rebasing: bytes[index..<lf]))
                } else {
                    guard line.count + (lf - index) <= Self.maxLineLength else { throw ParseError.lineTooLong }
                    line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<lf]))
                    // Parse from a local so that `processLine` may mutate self; `line` takes the
                    // empty spare, and the parsed line's storage becomes the next spare.
                    swap(&line, &spare)
                    var whole = spare
                    spare = []
                    done = try whole.withUnsafeBytes { try processLine($0) }
                    whole.removeAll(keepingCapacity: true)
                    spare = whole
                }
                index = lf + 1
                if let done { return (index, done) }

            case .body(let remaining):
                let take = min(remaining, end - index)
                takeBody(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                index += take
                if take == remaining { return (index, complete(keepAlive: keepAliveFromHeaders)) }
                state = .body(remaining: remaining - take)

            case .chunkData(let remaining):
                let take = min(remaining, end - index)
                takeBody(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                index += take
                state = take == remaining ? .chunkDataEnd : .chunkData(remaining: remaining - take)

            case .untilClose:
                takeBody(UnsafeRawBufferPointer(rebasing: bytes[index..<end]))
                return (end, nil)
            }
        }
        return (end, nil)
    }

    /// Handles one line (without its LF; a trailing CR is dropped here).
    private mutating func processLine(_ raw: UnsafeRawBufferPointer) throws -> ParsedResponse? {
        var count = raw.count
        if count > 0 && raw[count - 1] == 0x0D { count -= 1 }
        let text = UnsafeRawBufferPointer(rebasing: raw[0..<count])
        switch state {
        case .statusLine:
            // Empty lines before a status line are tolerated (RFC 9112 §2.2).
            guard count > 0 else { return nil }
            try parseStatusLine(text)
            state = .headers
            return nil
        case .headers:
            if count == 0 { return endOfHead() }
            try parseHeader(text)
            return nil
        case .chunkSize:
            let size = try parseChunkSize(text)
            state = size == 0 ? .trailers : .chunkData(remaining: size)
            return nil
        case .chunkDataEnd:
            guard count == 0 else { throw ParseError.badChunk }
            state = .chunkSize
            return nil
        case .trailers:
            return count == 0 ? complete(keepAlive: keepAliveFromHeaders) : nil
        case .body, .chunkData, .untilClose:
            preconditionFailure("not a line state")
        }
    }

    private mutating func parseStatusLine(_ text: UnsafeRawBufferPointer) throws {
        // "HTTP/1.1 201 Created" (the reason phrase may be missing).
        guard text.count >= 12,
              text[0] == UInt8(ascii: "H"), text[1] == UInt8(ascii: "T"), text[2] == UInt8(ascii: "T"),
              text[3] == UInt8(ascii: "P"), text[4] == UInt8(ascii: "/"),
              let major = digit(text[5]), text[6] == UInt8(ascii: "."), let minor = digit(text[7]),
              text[8] == UInt8(ascii: " "),
              let d0 = digit(text[9]), let d1 = digit(text[10]), let d2 = digit(text[11]),
              text.count == 12 || text[12] == UInt8(ascii: " ")
        else { throw ParseError.badStatusLine }
        resetMessage()
        http11 = major > 1 || (major == 1 && minor >= 1)
        status = d0 * 100 + d1 * 10 + d2
    }

    private mutating func parseHeader(_ text: UnsafeRawBufferPointer) throws {
        var colon = 0
        while colon < text.count && text[colon] != UInt8(ascii: ":") { colon += 1 }
        guard colon > 0, colon < text.count else { throw ParseError.badHeader }
        let name = UnsafeRawBufferPointer(rebasing: text[0..<colon])
        var start = colon + 1
        var stop = text.count
        while start < stop && (text[start] == 0x20 || text[start] == 0x09) { start += 1 }
        while stop > start && (text[stop - 1] == 0x20 || text[stop - 1] == 0x09) { stop -= 1 }
        let value = UnsafeRawBufferPointer(rebasing: text[start..<stop])

        if asciiCaseInsensitiveEquals(name, "content-length") {
            guard value.count > 0, value.count <= 18 else { throw ParseError.badContentLength }
            var length = 0
            for byte in value {
                guard let d = digit(byte) else { throw ParseError.badContentLength }
                length = length * 10 + d
            }
            if let previous = contentLength, previous != length { throw ParseError.badContentLength }
            contentLength = length
        } else if asciiCaseInsensitiveEquals(name, "transfer-encoding") {
            // Chunked must be the final coding; anything else is read to the end of the connection.
            chunked = asciiCaseInsensitiveHasSuffix(value, "chunked")
        } else if asciiCaseInsensitiveEquals(name, "connection") {
            if asciiCaseInsensitiveContains(value, "close") { connectionClose = true }
            if asciiCaseInsensitiveContains(value, "keep-alive") { connectionKeepAlive = true }
        }
    }

    private func parseChunkSize(_ text: UnsafeRawBufferPointer) throws -> Int {
        var size = 0
        var digits = 0
        for byte in text {
            let value: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = Int(byte - UInt8(ascii: "A")) + 10
            case UInt8(ascii: ";"), 0x20, 0x09:
                guard digits > 0 else { throw ParseError.badChunk }
                return size
            default:
                throw ParseError.badChunk
            }
            digits += 1
            guard digits <= 15 else { throw ParseError.badChunk }
            size = size << 4 | value
        }
        guard digits > 0 else { throw ParseError.badChunk }
        return size
    }

    private mutating func endOfHead() -> ParsedResponse? {
        if status >= 100 && status < 200 && status != 101 {
            // Interim answer (100 Continue, 103 Early Hints): the final one follows.
            state = .statusLine
            return nil
        }
        capture = captureLimit > 0 && status >= 200 && status < 300
        if bodiless || status == 204 || status == 304 || status < 200 {
            return complete(keepAlive: keepAliveFromHeaders)
        }
        if chunked {
            state = .chunkSize
            return nil
        }
        if let contentLength {
            if contentLength == 0 { return complete(keepAlive: keepAliveFromHeaders) }
            if capture { body.reserveCapacity(min(contentLength, captureLimit)) }
            state = .body(remaining: contentLength)
            return nil
        }
        state = .untilClose
        return nil
    }

    private var keepAliveFromHeaders: Bool {
        if connectionClose { return false }
        return http11 || connectionKeepAlive
    }

    private mutating func takeBody(_ bytes: UnsafeRawBufferPointer) {
        bodyLength += bytes.count
        guard capture, body.count < captureLimit else { return }
        let take = min(bytes.count, captureLimit - body.count)
        body.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<take]))
    }

    private mutating func complete(keepAlive: Bool) -> ParsedResponse {
        let response = ParsedResponse(status: status, keepAlive: keepAlive, body: body, bodyLength: bodyLength)
        body = []
        state = .statusLine
        resetMessage()
        return response
    }

    private mutating func resetMessage() {
        status = 0
        http11 = true
        contentLength = nil
        chunked = false
        connectionClose = false
        connectionKeepAlive = false
        capture = false
        body = []
        bodyLength = 0
    }
}

// MARK: Byte helpers

@inline(__always)
private func digit(_ byte: UInt8) -> Int? {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") ? Int(byte - UInt8(ascii: "0")) : nil
}

@inline(__always)
private func lower(_ byte: UInt8) -> UInt8 {
    byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
}

/// `literal` must be lowercase ASCII.
private func asciiCaseInsensitiveEquals(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
    guard bytes.count == literal.utf8CodeUnitCount else { return false }
    let expected = literal.utf8Start
    for index in 0..<bytes.count where lower(bytes[index]) != expected[index] { return false }
    return true
}

private func asciiCaseInsensitiveHasSuffix(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
    let length = literal.utf8CodeUnitCount
    guard bytes.count >= length else { return false }
    return asciiCaseInsensitiveEquals(UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - length)...]), literal)
}

private func asciiCaseInsensitiveContains(_ bytes: UnsafeRawBufferPointer, _ literal: StaticString) -> Bool {
    let length = literal.utf8CodeUnitCount
    guard bytes.count >= length else { return false }
    for start in 0...(bytes.count - length)
    where asciiCaseInsensitiveEquals(UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)]), literal) {
        return true
    }
    return false
}
