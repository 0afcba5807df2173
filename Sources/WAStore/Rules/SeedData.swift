import WACore

/// What a new database starts with, the same on every backend: the product's default login
/// (`admin` / `secret`, to be changed at first login) and the default application settings.
public enum SeedData {
    public static let adminUsername = "admin"
    public static let adminPassword = "secret"

    public static func defaultAdmin() -> UserRecord {
        UserRecord(username: adminUsername, passwordHash: Credentials.hashPassword(adminPassword), salt: "",
                   mustChangePassword: true, isAdmin: true)
    }

    public static let settings = ApplicationSettings()
}
