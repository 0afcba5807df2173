import Foundation
import Hummingbird
import WACore
import WAStore
import WAWire

extension WebappAPI {
    // MARK: backup and restore

    /// `POST /v1/settings/backup` `{"password"}` → `{"settings":{"data":"…"}}`: the application
    /// settings, the account and the profile, sealed with the password (`BackupEnvelope`).
    func backup(_ request: Request) async throws -> Response {
        _ = try await requireAdmin(request, "back the settings up")
        try requireSchema()
        let body = try await RequestBody.object(request)
        try RequestBody.onlyKnown(body, ["password"])
        let password = try RequestBody.string(body, "password")!
        guard (8...64).contains(password.unicodeScalars.count) else { throw APIError.invalid("password", "8 to 64 characters") }
        var content: [String: JSONValue] = ["version": .number(1), "settings": try JSONCodec.encode(try await rt.store.settings().settings)]
        if let a = try await rt.store.account(), a.state != .pendingCode {
            content["account"] = .object(["cc": .string(a.cc), "phone_number": .string(a.phoneNumber), "vname": .string(a.vname), "shards": .number(Double(a.shards))])
        }
        var documents: [String: JSONValue] = [:]
        for name in ProfileDocument.all { if let d = try await rt.store.document(name) { documents[name] = .string(d) } }
        content["documents"] = .object(documents)
        let plain = JSONCodec.data(.object(content))
        let sealed = try await passwords.run { BackupEnvelope.seal(plain, password: password) }
        return APIResponse.json(JSONValue.object(["settings": .object(["data": .string(sealed)])]))
    }

    /// `POST /v1/settings/restore` `{"password", "data"}`: settings and profile as they were
    /// backed up; the account through the primary master (it must be this cluster's number or
    /// the cluster must have none).
    func restore(_ request: Request) async throws -> Response {
        _ = try await requireAdmin(request, "restore a backup")
        try requireSchema()
        let body = try await RequestBody.object(request)
        try RequestBody.onlyKnown(body, ["password", "data"])
        let password = try RequestBody.string(body, "password")!
        let data = try RequestBody.string(body, "data")!
        guard data.utf8.count <= RequestBody.maximumBytes else { throw APIError.invalid("data", "longer than any backup") }
        let opened = try await passwords.run { () -> Result<Data, BackupEnvelope.Unreadable> in
            do throws(BackupEnvelope.Unreadable) { return .success(try BackupEnvelope.open(data, password: password)) } catch { return .failure(error) }
        }
        let plain: Data
        switch opened {
        case .success(let d): plain = d
        case .failure(let e) where e.isWrongPassword: throw APIError(.accessDenied, "Parameter 'data' cannot be opened: \(e.reason)", status: 403)
        case .failure(let e): throw APIError.invalid("data", e.reason)
        }
        guard let content = try? JSONCodec.parse(plain).objectValue, content["version"]?.intValue == 1,
              let settingsValue = content["settings"], let settings = try? JSONCodec.decode(ApplicationSettings.self, from: settingsValue) else {
            throw APIError.invalid("data", "the backup opened but does not hold settings this version reads")
        }
        // The stored settings go through the PATCH rules, so a backup cannot hold what a PATCH refuses.
        let checked = try ApplicationSettings().applying(patch: (try JSONCodec.encode(settings)).objectValue ?? [:])
        if let a = content["account"]?.objectValue {
            guard let cc = a["cc"]?.stringValue, let pn = a["phone_number"]?.stringValue, let shards = a["shards"]?.intValue else {
                throw APIError.invalid("data", "the backup's account lacks cc, phone_number or shards")
            }
            let params = NodeRPC.RestoreAccount.Params(cc: cc, phoneNumber: pn, vname: a["vname"]?.stringValue ?? "", shards: shards)
            try params.validate()
            _ = try await forward(NodeRPC.RestoreAccount.self, params)
        }
        let version = try await rt.store.saveSettings(checked)
        _ = try? await rt.refreshSettings()
        for name in ProfileDocument.all {
            try await rt.store.saveDocument(name, body: content["documents"]?[name]?.stringValue)
        }
        rt.logger.event("settings_restored", "settings, account and profile restored from a backup (settings version \(version))", ["version": "\(version)"])
        return APIResponse.empty(.ok)
    }
}
