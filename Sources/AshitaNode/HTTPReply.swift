import AshitaCore
import NIOHTTP1

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a request gets: a whole response, or a server-sent event stream.
enum HTTPReply {
    case full(status: HTTPResponseStatus, contentType: String, body: [UInt8], headers: [(String, String)] = [])
    case eventStream(types: Set<String>?, lastEventID: String?)

    static func json(_ value: some Encodable, status: HTTPResponseStatus = .ok, headers: [(String, String)] = [])
        -> HTTPReply
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let body = (try? encoder.encode(value)).map(Array.init) ?? Array("{}".utf8)
        return .full(status: status, contentType: "application/json", body: body + [0x0A], headers: headers)
    }

    /// `{"error":{"code":...,"message":...}}` with the matching status.
    static func error(_ status: HTTPResponseStatus, _ code: ErrorCode, _ message: String, headers: [(String, String)] = [])
        -> HTTPReply
    {
        json(ErrorDocument(code: code, message: message), status: status, headers: headers)
    }

    static let noContent = HTTPReply.full(status: .noContent, contentType: "", body: [])
}
