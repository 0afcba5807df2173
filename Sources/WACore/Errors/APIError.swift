/// The product's error codes, as documented for the REST API.
public enum APIErrorCode: Int, Sendable, Codable, CaseIterable {
    case generic = 1000
    case messageTooLong = 1001
    /// A recipient type the cluster does not serve (groups: the product sunset them).
    case invalidRecipientType = 1002
    case alreadyExists = 1004
    case accessDenied = 1005
    case notFound = 1006
    case parameterMissing = 1008
    case parameterInvalid = 1009
    case serviceNotReady = 1011
    case internalError = 1014
    case tooManyRequests = 1015
    case notPrimaryMaster = 1017
    case notPrimaryCoreapp = 1018
    case webhookNotConfigured = 1022
    case databaseError = 1023
    case passwordChangeRequired = 1024
    case invalidRequest = 1025
    /// A stored message that can never be sent (its webhook status is `failed`).
    case messageUndeliverable = 1026

    /// The title the real product uses for the code.
    public var title: String {
        switch self {
        case .generic: "Generic error"
        case .messageTooLong: "Message too long"
        case .invalidRecipientType: "Invalid recipient type"
        case .alreadyExists: "Already exists"
        case .accessDenied: "Access denied"
        case .notFound: "Not found"
        case .parameterMissing: "Required parameter is missing"
        case .parameterInvalid: "Parameter value is not valid"
        case .serviceNotReady: "Service not ready"
        case .internalError: "Internal error"
        case .tooManyRequests: "Too many requests"
        case .notPrimaryMaster: "Not Primary Master"
        case .notPrimaryCoreapp: "Not Primary Coreapp"
        case .webhookNotConfigured: "Webhook URL not configured"
        case .databaseError: "Database error"
        case .passwordChangeRequired: "Password change required"
        case .invalidRequest: "Invalid request"
        case .messageUndeliverable: "Receiver incapable"
        }
    }
}

/// An API error: code, title, details and the HTTP status it travels with. Encodes as one
/// entry of the product's `{"errors":[...]}` array.
public struct APIError: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public var code: Int
    public var title: String
    public var details: String
    public var httpStatus: Int

    public init(_ code: APIErrorCode, _ details: String, status: Int) {
        self.code = code.rawValue; self.title = code.title; self.details = details; self.httpStatus = status
    }

    public init(code: Int, title: String, details: String, httpStatus: Int) {
        self.code = code; self.title = title; self.details = details; self.httpStatus = httpStatus
    }

    enum CodingKeys: String, CodingKey { case code, title, details, httpStatus = "http_status" }

    public var description: String { "\(code) \(title): \(details) (HTTP \(httpStatus))" }

    /// The product's "Wacore is not instantiated" answer that unregistered nodes give.
    public static let wacoreNotInstantiated = APIError(
        .serviceNotReady, "Wacore is not instantiated. Please check wacore log for details.", status: 503)

    public static func missing(_ field: String) -> APIError {
        APIError(.parameterMissing, "Required parameter '\(field)' is missing", status: 400)
    }
    public static func invalid(_ field: String, _ why: String) -> APIError {
        APIError(.parameterInvalid, "Parameter '\(field)' is not valid: \(why)", status: 400)
    }
    /// A value that conflicts with another field or with the current state (409): what a
    /// schema cannot say, such as `unhealthy_interval` > `heartbeat_interval`.
    public static func conflict(_ field: String, _ why: String) -> APIError {
        APIError(.parameterInvalid, "Parameter '\(field)' is not valid: \(why)", status: 409)
    }
    /// The same error with a sentence more of what to do.
    public func adding(_ advice: String) -> APIError {
        var e = self
        e.details += ": " + advice
        return e
    }
    public static func notReady(_ why: String) -> APIError { APIError(.serviceNotReady, why, status: 503) }
    public static func database(_ why: String) -> APIError { APIError(.databaseError, why, status: 500) }
    /// 503 while the database cannot be reached or did not answer in time (retry), else 500.
    public static func database(unavailable: Bool, _ why: String) -> APIError {
        APIError(.databaseError, why, status: unavailable ? 503 : 500)
    }
}

/// The body shape of every error answer: `{"errors":[{"code":N,"title":"…","details":"…"}]}`.
public struct APIErrorBody: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable { public var code: Int; public var title: String; public var details: String }
    public var errors: [Entry]
    public init(_ error: APIError) { errors = [Entry(code: error.code, title: error.title, details: error.details)] }
}
