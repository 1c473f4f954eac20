#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Who a node is, as `nodeConnected` and `/api/v1/node` tell it.
public struct NodeIdentity: Codable, Equatable, Sendable {
    /// The advertised address.
    public var nodeIp: String
    /// A stable identifier of this node, kept in its data directory.
    public var id: String
    public var version: String
    /// Whether the node speaks TLS (`https://`, `wss://`).
    public var tls: Bool

    public init(address: NodeAddress, id: String, version: String, tls: Bool = false) {
        self.nodeIp = address.description
        self.id = id
        self.version = version
        self.tls = tls
    }
}

/// What a node learned about a peer by asking it (`GET /api/v1/node`): who answers there, and how to reach it.
/// `id` is nil when announcements are not verified.
public struct PeerFacts: Codable, Equatable, Hashable, Sendable {
    public var id: String?
    public var tls: Bool

    public init(id: String?, tls: Bool) {
        self.id = id
        self.tls = tls
    }

    public static let unverified = PeerFacts(id: nil, tls: false)
}

/// One peer as `nodeDiscovered` and `nodeList` describe it: `{"nodeIp":...,"id":...,"tls":...}`.
public struct PeerAnnouncement: Codable, Equatable, Sendable {
    public var nodeIp: String
    public var id: String?
    public var tls: Bool

    public init(_ address: NodeAddress, _ facts: PeerFacts) {
        self.nodeIp = address.description
        self.id = facts.id
        self.tls = facts.tls
    }
}

/// An event a node sends to a client over WebSocket: `{"type":...,"content":{...}}`.
public enum ServerEvent: Equatable, Sendable {
    case nodeConnected(NodeIdentity)
    case nodeList([PeerAnnouncement])
    case nodeDiscovered(PeerAnnouncement)
    case nodeLeft(NodeAddress)
    case nodeOperatorConnected(NodeIdentity)
    case error(ProtocolViolation)
    case pong

    public var type: String {
        switch self {
        case .nodeConnected: "nodeConnected"
        case .nodeList: "nodeList"
        case .nodeDiscovered: "nodeDiscovered"
        case .nodeLeft: "nodeLeft"
        case .nodeOperatorConnected: "nodeOperatorConnected"
        case .error: "error"
        case .pong: "pong"
        }
    }

    /// The frame's JSON text, keys sorted so the output is stable.
    public func encoded() -> [UInt8] {
        switch self {
        case .nodeConnected(let identity), .nodeOperatorConnected(let identity):
            return Self.encode(type, identity)
        case .nodeList(let nodes):
            // `nodeList` as the original had it (addresses); `nodes` adds what is known of each.
            return Self.encode(type, NodeListContent(nodeList: nodes.map(\.nodeIp), nodes: nodes))
        case .nodeDiscovered(let announcement):
            return Self.encode(type, announcement)
        case .nodeLeft(let node):
            return Self.encode(type, ["nodeIp": node.description])
        case .error(let violation):
            return Self.encode(type, ["code": violation.code.rawValue, "message": violation.message])
        case .pong:
            return Self.encode(type, [String: String]())
        }
    }

    private struct NodeListContent: Encodable {
        var nodeList: [String]
        var nodes: [PeerAnnouncement]
    }

    private struct Envelope<Content: Encodable>: Encodable {
        var type: String
        var content: Content
    }

    static func encode(_ type: String, _ content: some Encodable) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings and dictionaries of strings cannot fail.
        return Array(try! encoder.encode(Envelope(type: type, content: content)))
    }
}
