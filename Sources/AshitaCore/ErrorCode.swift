/// The `code` of an `error` event, or of an HTTP error body. Stable: scripts match on it.
public enum ErrorCode: String, Sendable, Codable, CaseIterable {
    /// The frame is not valid UTF-8, not JSON, or not a JSON object.
    case badJSON = "bad-json"
    /// `type` is missing, not a string, or not a message this node knows.
    case badType = "bad-type"
    /// `node` is not a valid `host:port`.
    case badNode = "bad-node"
    /// The frame is larger than the node accepts.
    case tooBig = "too-big"
    /// A binary frame: the protocol is JSON text.
    case binaryFrame = "binary-frame"
    /// Wrong operator token.
    case unauthorized
    /// Too many failed attempts, or too many messages.
    case rateLimited = "rate-limited"
    /// No ashita node answered at the announced home: other clients are not told of it.
    case unverified
    /// HTTP: the node has as many connections or streams as it takes; try later.
    case busy
    /// HTTP: the request's headers are larger than the node reads.
    case headersTooLarge = "headers-too-large"
    /// HTTP: the request's body is larger than the node reads.
    case bodyTooLarge = "body-too-large"
    /// HTTP: no such path.
    case notFound = "not-found"
    /// HTTP: the path exists, but not for that method.
    case methodNotAllowed = "method-not-allowed"
    /// HTTP: the request is malformed.
    case badRequest = "bad-request"
    /// The operator banned this home or address for a while.
    case banned
}

/// What a client did wrong, as the node answers it.
public struct ProtocolViolation: Error, Equatable, Sendable {
    public var code: ErrorCode
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }
}
