import AshitaCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Why a request to a node failed, in the terms a user can act on. Each has its exit code.
public enum NodeAPIError: Error, Equatable, CustomStringConvertible {
    case unreachable(NodeAddress, reason: String)
    case notAshita(NodeAddress, detail: String)
    case unauthorized(NodeAddress)
    case rateLimited(NodeAddress)
    case refused(NodeAddress, status: Int, message: String)
    /// TLS failed: the certificate is not trusted or not for this address, or the node does not speak TLS.
    case tls(NodeAddress, reason: String)
    /// A plain address given for a node that speaks TLS.
    case speaksTLS(NodeAddress)
    /// The node closed the WebSocket, with this code and reason if it sent a close frame.
    case closed(NodeAddress, code: UInt16?, reason: String)

    public var description: String {
        switch self {
        case .unreachable(let node, let reason):
            "cannot reach \(node) (\(reason)) — is 'ashita serve \(node.port)' running?"
        case .notAshita(let node, let detail):
            "\(node) does not answer like an ashita node (\(detail)) — check the address"
        case .unauthorized(let node):
            "\(node) refused the operator token — run 'ashita auth \(node)' with the token from its data directory"
        case .rateLimited(let node):
            "\(node) refuses operator logins from here for now after repeated failures — wait a minute"
        case .refused(let node, let status, let message):
            "\(node) answered \(status): \(message)"
        case .tls(let node, let reason):
            "TLS with \(node) failed (\(reason)) — for a node with a private CA pass --cacert FILE; for a node without TLS use host:port, not https://"
        case .speaksTLS(let node):
            "\(node) speaks TLS — use https://\(node)"
        case .closed(let node, let code?, let reason):
            "\(node) closed the connection with \(code)\(reason.isEmpty ? "" : ": \(reason)")"
        case .closed(let node, nil, _):
            "\(node) closed the connection without saying why"
        }
    }

    /// 69 (EX_UNAVAILABLE) unreachable or not ashita; 77 (EX_NOPERM) authentication; 1 anything else.
    public var exitCode: Int32 {
        switch self {
        case .unreachable, .notAshita, .tls, .speaksTLS: 69
        case .unauthorized, .rateLimited: 77
        case .refused, .closed: 1
        }
    }
}

/// One node's HTTP API, through libcurl.
public struct NodeAPI: Sendable {
    public let endpoint: NodeEndpoint
    public let http: CurlHTTPClient
    public var node: NodeAddress { endpoint.address }

    /// `caFile`: PEM CA certificates to trust for an `https://` node instead of the system's.
    public init(node: NodeEndpoint, timeoutSeconds: Double = 5, caFile: String? = nil) {
        self.endpoint = node
        self.http = CurlHTTPClient(timeoutSeconds: timeoutSeconds, caFile: caFile)
    }

    public var baseURL: String { endpoint.httpBase }

    /// The document's bytes as the node sent them, and decoded.
    public func get<T: Decodable>(_ path: String, as: T.Type, token: String? = nil) async throws(NodeAPIError) -> (raw: [UInt8], value: T) {
        let response = try await send("GET", path, token: token)
        try check(response)
        do {
            return (response.body, try JSONDecoder().decode(T.self, from: Data(response.body)))
        } catch {
            throw .notAshita(node, detail: "unexpected answer to \(path)")
        }
    }

    /// `POST /api/v1/auth`: nil when the token is accepted.
    public func verify(token: String) async throws(NodeAPIError) {
        try check(try await send("POST", "/api/v1/auth", token: token))
    }

    /// An operator's POST: the document's bytes as the node sent them, and decoded.
    public func post<T: Decodable>(_ path: String, as: T.Type, token: String) async throws(NodeAPIError) -> (raw: [UInt8], value: T) {
        let response = try await send("POST", path, token: token)
        try check(response)
        guard let result = try? JSONDecoder().decode(T.self, from: Data(response.body)) else {
            throw .notAshita(node, detail: "unexpected answer to \(path.split(separator: "?").first ?? "")")
        }
        return (response.body, result)
    }

    private func send(_ method: String, _ path: String, token: String?) async throws(NodeAPIError) -> HTTPResponse {
        var headers = ["Accept: application/json"]
        if let token { headers.append("Authorization: Bearer \(token)") }
        do {
            return method == "POST"
                ? try await http.post(baseURL + path, headers: headers) : try await http.get(baseURL + path, headers: headers)
        } catch {
            switch error {
            case .unreachable(_, let reason, let code):
                throw await NodeAPIError.unreachable(endpoint, reason: reason, curlCode: code, timeoutSeconds: http.timeoutSeconds)
            case .tls(_, let reason): throw .tls(node, reason: reason)
            case .tooLarge: throw .notAshita(node, detail: "answer too large")
            case .stopped, .transfer: throw .notAshita(node, detail: error.description)
            }
        }
    }

    private func check(_ response: HTTPResponse) throws(NodeAPIError) {
        switch response.status {
        case 200..<300: return
        case 401: throw .unauthorized(node)
        case 429: throw .rateLimited(node)
        default:
            guard let body = try? JSONDecoder().decode(ErrorDocument.self, from: Data(response.body)) else {
                throw .notAshita(node, detail: "HTTP \(response.status)")
            }
            throw .refused(node, status: response.status, message: body.error.message)
        }
    }
}

extension NodeAPIError {
    /// Why `endpoint` could not be reached over HTTP. A TLS node meets a plain request with an empty reply (curl's
    /// 52) or a reset (56): then, when a TLS handshake works there, the answer is to use `https://`.
    public static func unreachable(
        _ endpoint: NodeEndpoint, reason: String, curlCode: Int, timeoutSeconds: Double
    ) async -> NodeAPIError {
        guard [52, 56].contains(curlCode) else { return .unreachable(endpoint.address, reason: reason) }
        return await closedEarly(endpoint, reason: reason, timeoutSeconds: timeoutSeconds)
    }

    /// Why a WebSocket to `endpoint` failed, in the same terms as the HTTP API's failures.
    public static func webSocket(_ error: any Error, to endpoint: NodeEndpoint, timeoutSeconds: Double) async -> NodeAPIError {
        switch error as? WebSocketClientError {
        case .unreachable(_, let reason)?: .unreachable(endpoint.address, reason: reason)
        case .notUpgraded?: .notAshita(endpoint.address, detail: "it answered the WebSocket request without taking it")
        case .closed(_, let code, let reason)?: .closed(endpoint.address, code: code, reason: reason)
        case .closedDuringHandshake(let target)?:
            await closedEarly(endpoint, reason: WebSocketClientError.closedDuringHandshake(target).description, timeoutSeconds: timeoutSeconds)
        case let other?: .unreachable(endpoint.address, reason: other.description)
        case nil: .unreachable(endpoint.address, reason: "\(error)")
        }
    }

    /// Something at `endpoint` closed without answering: `https://` is the answer when it speaks TLS.
    private static func closedEarly(_ endpoint: NodeEndpoint, reason: String, timeoutSeconds: Double) async -> NodeAPIError {
        guard !endpoint.tls, await answersTLS(endpoint.address, timeoutSeconds: timeoutSeconds) else {
            return .unreachable(endpoint.address, reason: reason)
        }
        return .speaksTLS(endpoint.address)
    }

    /// Whether a TLS handshake with `node` succeeds (its certificate unchecked: only whether it speaks TLS).
    private static func answersTLS(_ node: NodeAddress, timeoutSeconds: Double) async -> Bool {
        var probe = CurlHTTPClient(timeoutSeconds: min(timeoutSeconds, 5))
        probe.verifyCertificates = false
        do {
            _ = try await probe.get("https://\(node)/api/v1/health", headers: [])
            return true
        } catch {
            return false
        }
    }
}
