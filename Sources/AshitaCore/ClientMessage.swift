#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A message a client sends to a node, validated. Anything else is a `ProtocolViolation`.
public enum ClientMessage: Equatable, Sendable {
    /// `{"type":"auth","node":"host:port","content":{"token":"..."}}`. `home == nil` is an observer
    /// (no `node`, or `node: null`); `token` asks for operator rights.
    case auth(home: NodeAddress?, token: String?)
    /// `{"type":"ping"}`, answered with `pong`.
    case ping

    public static let knownTypes = ["auth", "ping"]

    /// The frame a client sends, e.g. `{"content":{},"node":"127.0.0.1:9000","type":"auth"}`: the original's
    /// shape, `node` left out for an observer, `content.token` only when asking for operator rights.
    public var text: String {
        struct Frame: Encodable {
            var type: String
            var node: String?
            var content: [String: String]
        }
        let frame: Frame
        switch self {
        case .auth(let home, let token):
            frame = Frame(type: "auth", node: home?.description, content: token.map { ["token": $0] } ?? [:])
        case .ping:
            frame = Frame(type: "ping", content: [:])
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings and dictionaries of strings always encode.
        return String(decoding: try! encoder.encode(frame), as: UTF8.self)
    }

    /// Decodes one text frame. Never throws anything but a `ProtocolViolation` with a message fit for the client.
    public static func decode(_ bytes: some Collection<UInt8>) -> Result<ClientMessage, ProtocolViolation> {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            return .failure(ProtocolViolation(.badJSON, "frame is not valid UTF-8 text"))
        }
        let value: JSONValue
        switch StrictJSON.parse(bytes) {
        case .success(let parsed): value = parsed
        case .failure(let error): return .failure(ProtocolViolation(.badJSON, "frame is not valid JSON: \(error)"))
        }
        guard case .object(let fields) = value else {
            return .failure(ProtocolViolation(.badJSON, "frame must be a JSON object, got \(value.kind)"))
        }
        guard let typeValue = fields["type"] else {
            return .failure(ProtocolViolation(.badType, "frame has no \"type\"; expected one of \(knownTypes.joined(separator: ", "))"))
        }
        guard case .string(let type) = typeValue else {
            return .failure(ProtocolViolation(.badType, "\"type\" must be a string, got \(typeValue.kind)"))
        }
        switch type {
        case "ping":
            return .success(.ping)
        case "auth":
            return decodeAuth(fields)
        default:
            return .failure(ProtocolViolation(.badType, "unknown type \(quoted(type)); expected one of \(knownTypes.joined(separator: ", "))"))
        }
    }

    private static func decodeAuth(_ fields: [String: JSONValue]) -> Result<ClientMessage, ProtocolViolation> {
        var home: NodeAddress?
        switch fields["node"] {
        case nil, .null?:
            home = nil
        case .string(let text)?:
            do {
                home = try NodeAddress(parsing: text)
            } catch {
                return .failure(ProtocolViolation(.badNode, error.description))
            }
        case let other?:
            return .failure(ProtocolViolation(.badNode, "node must be host:port, got \(other.kind)"))
        }
        var token: String?
        // The original ignored `content`; only an object with a `token` means anything here.
        if case .object(let content)? = fields["content"], let tokenValue = content["token"] {
            guard case .string(let text) = tokenValue else {
                return .failure(ProtocolViolation(.badJSON, "content.token must be a string, got \(tokenValue.kind)"))
            }
            token = text
        }
        return .success(.auth(home: home, token: token))
    }
}

/// Any JSON value, to inspect untrusted frames without trusting their shape.
public enum JSONValue: Codable, Sendable, Equatable {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? container.decode(Double.self) {
            self = .number(n)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .number(let n):
            if n == n.rounded(), abs(n) < 1e15 { try container.encode(Int64(n)) } else { try container.encode(n) }
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }

    public var kind: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
