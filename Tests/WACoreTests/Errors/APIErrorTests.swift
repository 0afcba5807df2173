import Foundation
import Testing
@testable import WACore

@Suite("APIError")
struct APIErrorTests {
    @Test func theCodesAreTheProductsCodes() {
        #expect(APIErrorCode.allCases.map(\.rawValue) ==
                [1000, 1001, 1002, 1004, 1005, 1006, 1008, 1009, 1011, 1014, 1015, 1017, 1018, 1022, 1023, 1024, 1025, 1026])
        #expect(Set(APIErrorCode.allCases.map(\.title)).count == APIErrorCode.allCases.count)
        #expect(APIErrorCode.serviceNotReady.title == "Service not ready")
        #expect(APIErrorCode.notPrimaryMaster.title == "Not Primary Master")
    }

    @Test func helpersCarryCodeTitleAndStatus() {
        let missing = APIError.missing("to")
        #expect(missing.code == 1008 && missing.httpStatus == 400)
        #expect(missing.title == "Required parameter is missing")
        #expect(missing.details == "Required parameter 'to' is missing")
        let invalid = APIError.invalid("shards", "must be 1, 2, 4, 8, 16 or 32")
        #expect(invalid.code == 1009 && invalid.httpStatus == 400)
        #expect(invalid.details == "Parameter 'shards' is not valid: must be 1, 2, 4, 8, 16 or 32")
        #expect(APIError.notReady("x").code == 1011 && APIError.notReady("x").httpStatus == 503)
        #expect(APIError.database("x").code == 1023 && APIError.database("x").httpStatus == 500)
        #expect(APIError.wacoreNotInstantiated.code == 1011)
        #expect(APIError.wacoreNotInstantiated.details == "Wacore is not instantiated. Please check wacore log for details.")
        #expect(invalid.description == "1009 Parameter value is not valid: Parameter 'shards' is not valid: must be 1, 2, 4, 8, 16 or 32 (HTTP 400)")
    }

    @Test func bodyHasTheProductsShape() throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let text = String(decoding: try enc.encode(APIErrorBody(.wacoreNotInstantiated)), as: UTF8.self)
        #expect(text == #"{"errors":[{"code":1011,"details":"Wacore is not instantiated. Please check wacore log for details.","title":"Service not ready"}]}"#)
    }

    @Test func errorRoundTripsThroughJSON() throws {
        let e = APIError(.tooManyRequests, "slow down", status: 429)
        let data = try JSONEncoder().encode(e)
        #expect(String(decoding: data, as: UTF8.self).contains("\"http_status\":429"))
        #expect(try JSONDecoder().decode(APIError.self, from: data) == e)
    }
}
