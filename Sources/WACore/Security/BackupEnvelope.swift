import Crypto
import Foundation

/// The password-sealed blob of `POST /v1/settings/backup`: `WAB1`, a 16-byte salt, then
/// AES-256-GCM (nonce, ciphertext, tag) under a key PBKDF2-HMAC-SHA256 derives from the
/// password; base64 as a whole. A wrong password or a changed byte fails the tag check.
public enum BackupEnvelope {
    static let magic = Array("WAB1".utf8)
    /// Fewer rounds than a stored password hash: the blob is the user's to keep, and a restore
    /// must not stall the webapp (still far above what makes guessing cheap).
    static let rounds = 100_000

    public struct Unreadable: Error, Sendable, Equatable {
        public let reason: String
        /// The blob is a backup, but this password does not open it (or it was changed).
        public var isWrongPassword = false
    }

    public static func seal(_ plaintext: Data, password: String) -> String {
        let salt = Credentials.randomBytes(16)
        let key = SymmetricKey(data: Credentials.derive(password, salt: salt, rounds: rounds))
        // AES.GCM.seal with a random nonce cannot fail for a 256-bit key.
        let box = try! AES.GCM.seal(plaintext, using: key)
        return Data(magic + salt + Array(box.combined!)).base64EncodedString()
    }

    public static func open(_ blob: String, password: String) throws(Unreadable) -> Data {
        guard let raw = Data(base64Encoded: blob.trimmingCharacters(in: .whitespacesAndNewlines)).map(Array.init) else {
            throw Unreadable(reason: "not base64; send the data string that POST /v1/settings/backup returned")
        }
        guard raw.count > magic.count + 16 + 28, Array(raw.prefix(magic.count)) == magic else {
            throw Unreadable(reason: "not a backup of this cluster software (it does not start with its marker)")
        }
        let salt = Array(raw[magic.count..<magic.count + 16])
        let key = SymmetricKey(data: Credentials.derive(password, salt: salt, rounds: rounds))
        do {
            let box = try AES.GCM.SealedBox(combined: Data(raw[(magic.count + 16)...]))
            return try AES.GCM.open(box, using: key)
        } catch {
            throw Unreadable(reason: "the password does not open this backup, or the data was changed", isWrongPassword: true)
        }
    }
}
