import NIOCore
import Testing
@testable import LoadGenerator

@Suite struct ResponseParserTests {
    /// Feeds `wire` in pieces of `piece` bytes (0: all at once) and collects the answers.
    private func parse(_ wire: String, piece: Int = 0, limit: Int = 256, bodiless: Bool = false,
                       eof: Bool = false) throws -> [ParsedResponse] {
        var parser = ResponseParser(captureLimit: limit, bodiless: bodiless)
        var answers: [ParsedResponse] = []
        let bytes = Array(wire.utf8)
        let step = piece == 0 ? max(bytes.count, 1) : piece
        var offset = 0
        while offset < bytes.count {
            var buffer = ByteBuffer(bytes: bytes[offset..<min(offset + step, bytes.count)])
            while let answer = try parser.next(&buffer) { answers.append(answer) }
            #expect(buffer.readableBytes == 0)
            offset += step
        }
        if eof, let last = parser.finish() { answers.append(last) }
        return answers
    }

    /// Same answers whether the bytes come at once or split anywhere.
    private func parseEverySplit(_ wire: String, limit: Int = 256, eof: Bool = false) throws -> [ParsedResponse] {
        let whole = try parse(wire, limit: limit, eof: eof)
        for piece in [1, 2, 3, 7, 13] {
            #expect(try parse(wire, piece: piece, limit: limit, eof: eof) == whole, "pieces of \(piece)")
        }
        return whole
    }

    @Test func contentLengthAnswers() throws {
        let wire = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"id\":\"m1\"}"
            + "HTTP/1.1 429 Too Many Requests\r\ncontent-length: 4\r\n\r\nslow"
        let answers = try parseEverySplit(wire)
        #expect(answers == [
            ParsedResponse(status: 201, keepAlive: true, body: Array("{\"id\":\"m1\"}".utf8), bodyLength: 11),
            ParsedResponse(status: 429, keepAlive: true, body: [], bodyLength: 4),
        ])
    }

    @Test func chunkedWithExtensionsAndTrailers() throws {
        let wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n"
            + "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n0\r\n\r\n"
        let answers = try parseEverySplit(wire)
        #expect(answers == [
            ParsedResponse(status: 200, keepAlive: true, body: Array("hello 0123456789".utf8), bodyLength: 16),
            ParsedResponse(status: 202, keepAlive: true, body: [], bodyLength: 0),
        ])
    }

    @Test func bodylessAnswersAndInterimOnes() throws {
        let wire = "HTTP/1.1 100 Continue\r\n\r\n"
            + "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n"
            + "HTTP/1.1 304 Not Modified\r\n\r\n"
            + "HTTP/1.1 201\r\nContent-Length: 0\r\n\r\n"
        let answers = try parseEverySplit(wire)
        #expect(answers.map(\.status) == [204, 304, 201])
        #expect(answers.allSatisfy { $0.bodyLength == 0 && $0.keepAlive })
    }

    @Test func answersToHeadHaveNoBody() throws {
        let wire = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
        let answers = try parse(wire, bodiless: true)
        #expect(answers.count == 2)
        #expect(answers.allSatisfy { $0.bodyLength == 0 })
    }

    @Test func connectionCloseAndHTTP10() throws {
        let answers = try parseEverySplit(
            "HTTP/1.1 201 Created\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
            + "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
            + "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok")
        #expect(answers.map(\.keepAlive) == [false, false, true])
    }

    @Test func bodyToTheEndOfTheConnection() throws {
        let wire = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this until EOF"
        #expect(try parse(wire).isEmpty)
        let answers = try parseEverySplit(wire, eof: true)
        #expect(answers == [ParsedResponse(status: 200, keepAlive: false, body: Array("all of this until EOF".utf8), bodyLength: 21)])
    }

    @Test func capturesOnlyTheStartOf2xxBodies() throws {
        let long = String(repeating: "x", count: 1000)
        let answers = try parseEverySplit(
            "HTTP/1.1 201 Created\r\nContent-Length: 1000\r\n\r\n\(long)"
            + "HTTP/1.1 500 Oops\r\nContent-Length: 1000\r\n\r\n\(long)", limit: 10)
        #expect(answers.count == 2)
        #expect(answers[0].body == Array(repeating: UInt8(ascii: "x"), count: 10))
        #expect(answers[0].bodyLength == 1000)
        #expect(answers[1].body.isEmpty)
        #expect(answers[1].bodyLength == 1000)
        #expect(try parse("HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc", limit: 0)[0].body.isEmpty)
    }

    @Test func toleratesBareLineFeedsAndBlankLinesBeforeTheStatusLine() throws {
        let answers = try parseEverySplit("\r\nHTTP/1.1 201 Created\nContent-Length: 2\n\nok")
        #expect(answers == [ParsedResponse(status: 201, keepAlive: true, body: Array("ok".utf8), bodyLength: 2)])
    }

    @Test func rejectsMalformedAnswers() {
        #expect(throws: ResponseParser.ParseError.badStatusLine) { try parse("HTTX/1.1 200 OK\r\n\r\n") }
        #expect(throws: ResponseParser.ParseError.badStatusLine) { try parse("HTTP/1.1 2x0 OK\r\n\r\n") }
        #expect(throws: ResponseParser.ParseError.badHeader) { try parse("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n") }
        #expect(throws: ResponseParser.ParseError.badContentLength) {
            try parse("HTTP/1.1 200 OK\r\nContent-Length: 12a\r\n\r\n")
        }
        #expect(throws: ResponseParser.ParseError.badContentLength) {
            try parse("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        }
        #expect(throws: ResponseParser.ParseError.badChunk) {
            try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        }
        #expect(throws: ResponseParser.ParseError.badChunk) {
            try parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n")
        }
        #expect(throws: ResponseParser.ParseError.lineTooLong) {
            try parse("HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 20_000), piece: 1000)
        }
    }

    @Test func requestRendering() {
        let template = RequestTemplate(
            method: "POST", path: "/v1/messages",
            headers: [("Content-Type", "application/json"), ("content-length", "99")],
            body: { Array("seq=\($0)".utf8) })
        let encoder = RequestEncoder(template: template, host: "127.0.0.1", port: 8080)
        let request = encoder.makeRequest(sequence: 1234567, allocator: ByteBufferAllocator())
        #expect(String(buffer: request) == "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
            + "Content-Type: application/json\r\nContent-Length: 11\r\n\r\nseq=1234567")
        let empty = RequestEncoder(template: RequestTemplate(method: "GET", path: "/health", headers: [("Host", "api")]),
                                   host: "::1", port: 80)
        #expect(String(buffer: empty.makeRequest(sequence: 0, allocator: ByteBufferAllocator()))
            == "GET /health HTTP/1.1\r\nHost: api\r\nContent-Length: 0\r\n\r\n")
    }
}
