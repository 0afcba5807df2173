import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat
import WACore

/// JSON answers and the product's error shape.
enum APIResponse {
    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? JSONCodec.encodedData(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: data)))
    }

    /// JSONValue answers skip Foundation's encoder (sorted keys, compact).
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: JSONCodec.data(value))))
    }

    static func empty(_ status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{}")))
    }

    static func error(_ e: APIError) -> Response {
        json(APIErrorBody(e), status: HTTPResponse.Status(code: e.httpStatus))
    }
}

/// Reads and checks request bodies, turning every problem into the documented error.
enum RequestBody {
    static let maximumBytes = 1 << 20

    static func object(_ request: Request, allowEmpty: Bool = false) async throws(APIError) -> [String: JSONValue] {
        let req = request
        let buffer: ByteBuffer
        do { buffer = try await req.body.collect(upTo: maximumBytes) }
        catch let e as HTTPResponseError where e.status == .contentTooLarge {
            throw APIError(.invalidRequest, "request body is larger than \(maximumBytes) bytes", status: 413)
        } catch {
            // A malformed body (a bad chunk size, a connection cut mid-body) is the client's error.
            throw APIError(.invalidRequest, "the request body could not be read: \(error)", status: 400)
        }
        if buffer.readableBytes == 0 {
            if allowEmpty { return [:] }
            throw APIError(.invalidRequest, "request body is empty; expected a JSON object", status: 400)
        }
        let value: JSONValue
        do { value = try JSONValue.parse(Data(buffer: buffer)) }
        catch { throw APIError(.invalidRequest, "request body is not valid JSON: \(error)", status: 400) }
        guard let obj = value.objectValue else {
            throw APIError(.invalidRequest, "request body must be a JSON object, got \(value.typeName)", status: 400)
        }
        return obj
    }

    /// `nullable`: an optional field sent as JSON null counts as not sent (clients of the
    /// product send `"pin": null` for a number without two-step verification).
    static func string(_ obj: [String: JSONValue], _ key: String, required: Bool = true, nullable: Bool = false) throws(APIError) -> String? {
        guard let v = obj[key], !(nullable && !required && v == .null) else {
            if required { throw .missing(key) }
            return nil
        }
        guard let s = v.stringValue else { throw .invalid(key, "expected a string, got \(v.typeName)") }
        if required, s.isEmpty { throw .missing(key) }
        return s
    }

    static func int(_ obj: [String: JSONValue], _ key: String) throws(APIError) -> Int {
        guard let v = obj[key] else { throw .missing(key) }
        guard let n = v.intValue else { throw .invalid(key, "expected an integer, got \(v.typeName == "number" ? "a fraction" : v.typeName)") }
        return n
    }

    /// Rejects keys the endpoint does not know: a typo must not pass silently.
    static func onlyKnown(_ obj: [String: JSONValue], _ known: Set<String>) throws(APIError) {
        if let unknown = obj.keys.sorted().first(where: { !known.contains($0) }) {
            throw .invalid(unknown, "unknown field; expected one of \(known.sorted().joined(separator: ", "))")
        }
    }
}
