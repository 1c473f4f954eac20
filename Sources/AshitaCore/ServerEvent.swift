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

    public init(address: NodeAddress, id: String, version: String) {
        self.nodeIp = address.description
        self.id = id
        self.version = version
    }
}

/// An event a node sends to a client over WebSocket: `{"type":...,"content":{...}}`.
public enum ServerEvent: Equatable, Sendable {
    case nodeConnected(NodeIdentity)
    case nodeList([NodeAddress])
    case nodeDiscovered(NodeAddress)
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
            return Self.encode(type, ["nodeList": nodes.map(\.description)])
        case .nodeDiscovered(let node), .nodeLeft(let node):
            return Self.encode(type, ["nodeIp": node.description])
        case .error(let violation):
            return Self.encode(type, ["code": violation.code.rawValue, "message": violation.message])
        case .pong:
            return Self.encode(type, [String: String]())
        }
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
