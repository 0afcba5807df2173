import Foundation
import Hummingbird
import NIOCore
import WACore

/// The profile documents the cluster keeps (`ClusterStore.document`), by name.
enum ProfileDocument {
    static let about = "profile.about"
    static let photo = "profile.photo"
    static let business = "business.profile"
    static let all = [about, photo, business]
}

extension WebappAPI {
    // MARK: profile

    static let maxAboutCharacters = 139
    static let maxPhotoBytes = 1 << 20

    func getAbout(_ request: Request) async throws -> Response {
        _ = try await authenticate(request)
        try requireSchema()
        let text = try await rt.store.document(ProfileDocument.about) ?? ""
        return APIResponse.json(JSONValue.object(["settings": .object(["profile": .object(["about": .object(["text": .string(text)])])])]))
    }

    func setAbout(_ request: Request) async throws -> Response {
        _ = try await requireAdmin(request, "change the profile")
        try requireSchema()
        let body = try await RequestBody.object(request)
        try RequestBody.onlyKnown(body, ["text"])
        let text = try RequestBody.string(body, "text")!
        let n = text.unicodeScalars.count
        guard n <= Self.maxAboutCharacters else { throw APIError.invalid("text", "at most \(Self.maxAboutCharacters) characters, got \(n)") }
        try await rt.store.saveDocument(ProfileDocument.about, body: text)
        return APIResponse.empty(.ok)
    }

    /// The photo as it was uploaded, with its content type.
    func getPhoto(_ request: Request) async throws -> Response {
        _ = try await authenticate(request)
        try requireSchema()
        guard let stored = try await rt.store.document(ProfileDocument.photo),
              let doc = try? JSONCodec.parse(Data(stored.utf8)), let type = doc["type"]?.stringValue,
              let bytes = doc["data"]?.stringValue.flatMap({ Data(base64Encoded: $0) }) else {
            throw APIError(.notFound, "no profile photo is set; upload one with POST /v1/settings/profile/photo", status: 404)
        }
        return Response(status: .ok, headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(data: bytes)))
    }

    /// `POST /v1/settings/profile/photo` with the image as the body (JPEG or PNG, at most 1 MiB).
    func setPhoto(_ request: Request) async throws -> Response {
        _ = try await requireAdmin(request, "change the profile")
        try requireSchema()
        var req = request
        let buffer: ByteBuffer
        do { buffer = try await req.collectBody(upTo: Self.maxPhotoBytes) }
        catch { throw APIError(.invalidRequest, "the photo is larger than \(Self.maxPhotoBytes) bytes", status: 413) }
        let bytes = Array(buffer.readableBytesView)
        let type: String
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { type = "image/jpeg" }
        else if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { type = "image/png" }
        else { throw APIError.invalid("photo", "the body must be a JPEG or PNG image (\(bytes.count) bytes that are neither)") }
        let doc = JSONValue.object(["type": .string(type), "data": .string(Data(bytes).base64EncodedString())])
        try await rt.store.saveDocument(ProfileDocument.photo, body: String(decoding: JSONCodec.data(doc), as: UTF8.self))
        return APIResponse.empty(.created)
    }

    func getBusinessProfile(_ request: Request) async throws -> Response {
        _ = try await authenticate(request)
        try requireSchema()
        let stored = try await rt.store.document(ProfileDocument.business).flatMap { try? JSONCodec.parse(Data($0.utf8)) }
        let profile = stored ?? BusinessProfile.empty
        return APIResponse.json(JSONValue.object(["settings": .object(["business": .object(["profile": profile])])]))
    }

    /// `POST /v1/settings/business/profile`: every field optional (null clears it); only the
    /// fields sent change.
    func setBusinessProfile(_ request: Request) async throws -> Response {
        _ = try await requireAdmin(request, "change the business profile")
        try requireSchema()
        let body = try await RequestBody.object(request)
        try RequestBody.onlyKnown(body, Set(BusinessProfile.limits.keys).union(["websites"]))
        var profile = try await rt.store.document(ProfileDocument.business).flatMap { try? JSONCodec.parse(Data($0.utf8)).objectValue } ?? BusinessProfile.empty.objectValue!
        for (key, value) in body.sorted(by: { $0.key < $1.key }) {
            if key == "websites" {
                let sites = try BusinessProfile.websites(value)
                profile[key] = .array(sites.map { .string($0) })
                continue
            }
            if value == .null { profile[key] = .string(""); continue }
            guard let s = value.stringValue else { throw APIError.invalid(key, "expected a string, got \(value.typeName)") }
            let limit = BusinessProfile.limits[key]!
            guard s.unicodeScalars.count <= limit else { throw APIError.invalid(key, "at most \(limit) characters, got \(s.unicodeScalars.count)") }
            if key == "email", !s.isEmpty, !(s.contains("@") && !s.hasPrefix("@") && !s.hasSuffix("@")) { throw APIError.invalid(key, "an email address, got \"\(s)\"") }
            profile[key] = .string(s)
        }
        try await rt.store.saveDocument(ProfileDocument.business, body: String(decoding: JSONCodec.data(.object(profile)), as: UTF8.self))
        return APIResponse.empty(.ok)
    }
}

/// The business profile's fields and the product's limits.
enum BusinessProfile {
    static let limits = ["address": 256, "description": 256, "email": 128, "vertical": 128]
    static let maxWebsites = 2
    static let empty = JSONValue.object(["address": .string(""), "description": .string(""), "email": .string(""), "vertical": .string(""), "websites": .array([])])

    static func websites(_ value: JSONValue) throws(APIError) -> [String] {
        if value == .null { return [] }
        guard let list = value.arrayValue else { throw APIError.invalid("websites", "expected an array of URLs") }
        guard list.count <= maxWebsites else { throw APIError.invalid("websites", "at most \(maxWebsites) websites, got \(list.count)") }
        return try list.enumerated().map { i, v throws(APIError) -> String in
            guard let s = v.stringValue, (s.hasPrefix("http://") || s.hasPrefix("https://")), s.unicodeScalars.count <= 256 else {
                throw APIError.invalid("websites[\(i)]", "an http:// or https:// URL of at most 256 characters")
            }
            return s
        }
    }
}
