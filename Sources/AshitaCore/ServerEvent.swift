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
    // Fixed once made, so `written` cannot go stale.
    public let nodeIp: String
    public let id: String?
    public let tls: Bool
    /// This announcement as `nodeList` and `nodeDiscovered` write it, kept by the peer table with each peer: every
    /// new client's list names every peer, and copying these bytes costs a fraction of writing them anew. Not part
    /// of the value.
    var written: Written?

    struct Written: Sendable {
        /// `nodeIp` as a JSON string, and the whole object.
        let nodeIp: [UInt8]
        let object: [UInt8]

        init(_ announcement: PeerAnnouncement) {
            var address = JSONWriter("")
            address.string(announcement.nodeIp)
            var object = JSONWriter("")
            object.announcement(announcement)
            nodeIp = address.bytes
            self.object = object.bytes
        }
    }

    enum CodingKeys: String, CodingKey { case nodeIp, id, tls }

    public static func == (left: PeerAnnouncement, right: PeerAnnouncement) -> Bool {
        left.nodeIp == right.nodeIp && left.id == right.id && left.tls == right.tls
    }

    public init(_ address: NodeAddress, _ facts: PeerFacts) {
        self.init(nodeIp: address.description, facts)
    }

    init(nodeIp: String, _ facts: PeerFacts) {
        self.nodeIp = nodeIp
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
            // The hot events are written by hand (every auth, every fan-out), byte for byte as JSONEncoder would.
            var out = JSONWriter(#"{"content":{"nodeList":["#)
            out.bytes.reserveCapacity(64 + nodes.reduce(0) { $0 + 2 + ($1.written.map { $0.nodeIp.count + $0.object.count } ?? 128) })
            for (i, node) in nodes.enumerated() {
                if i > 0 { out.raw(",") }
                out.nodeIp(node)
            }
            out.raw(#"],"nodes":["#)
            for (i, node) in nodes.enumerated() {
                if i > 0 { out.raw(",") }
                out.announcement(node)
            }
            out.raw(#"]},"type":"nodeList"}"#)
            return out.bytes
        case .nodeDiscovered(let announcement):
            var out = JSONWriter(#"{"content":"#)
            out.announcement(announcement)
            out.raw(#","type":"nodeDiscovered"}"#)
            return out.bytes
        case .nodeLeft(let node):
            var out = JSONWriter(#"{"content":{"nodeIp":"#)
            out.string(node.description)
            out.raw(#"},"type":"nodeLeft"}"#)
            return out.bytes
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

/// JSON written by hand for the events a node sends most, with the same bytes as `JSONEncoder` with sorted keys
/// and unescaped slashes.
struct JSONWriter {
    var bytes: [UInt8]

    init(_ start: String) { bytes = Array(start.utf8) }

    mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    /// A JSON string: quotes, backslashes and control characters escaped, everything else as UTF-8.
    mutating func string(_ text: String) {
        bytes.append(0x22)
        // Most strings (addresses, ids) need no escape: copied whole, not byte by byte.
        let copied = text.utf8.withContiguousStorageIfAvailable { utf8 in
            for byte in utf8 where byte < 0x20 || byte == 0x22 || byte == 0x5C { return false }
            bytes.append(contentsOf: utf8)
            return true
        }
        if copied == true {
            bytes.append(0x22)
            return
        }
        for byte in text.utf8 {
            switch byte {
            case 0x22: bytes += [0x5C, 0x22]
            case 0x5C: bytes += [0x5C, 0x5C]
            case 0x0A: bytes += [0x5C, 0x6E]
            case 0x0D: bytes += [0x5C, 0x72]
            case 0x09: bytes += [0x5C, 0x74]
            case 0x08: bytes += [0x5C, 0x62]
            case 0x0C: bytes += [0x5C, 0x66]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                bytes += [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            default: bytes.append(byte)
            }
        }
        bytes.append(0x22)
    }

    /// Any JSON value, objects with their keys sorted, as `JSONEncoder` with `.sortedKeys` and
    /// `.withoutEscapingSlashes` writes it (a test holds the two to the same bytes) at a fraction of its cost:
    /// every link message is written this way. Whole numbers are written without a fraction.
    mutating func value(_ value: JSONValue) {
        switch value {
        case .null: raw("null")
        case .bool(let flag): raw(flag ? "true" : "false")
        case .number(let number):
            if number == number.rounded(), abs(number) < 9_007_199_254_740_992 {
                raw(String(Int64(number)))
            } else {
                raw("\(number)")
            }
        case .string(let text): string(text)
        case .array(let items):
            raw("[")
            for (index, item) in items.enumerated() {
                if index > 0 { raw(",") }
                self.value(item)
            }
            raw("]")
        case .object(let fields):
            raw("{")
            for (index, key) in fields.keys.sorted().enumerated() {
                if index > 0 { raw(",") }
                string(key)
                raw(":")
                self.value(fields[key]!)
            }
            raw("}")
        }
    }

    /// `node.nodeIp` as a JSON string: copied when already written.
    mutating func nodeIp(_ node: PeerAnnouncement) {
        guard let written = node.written else { return string(node.nodeIp) }
        bytes.append(contentsOf: written.nodeIp)
    }

    /// `{"id":...,"nodeIp":...,"tls":...}`, `id` left out when unknown: copied when already written.
    mutating func announcement(_ node: PeerAnnouncement) {
        if let written = node.written { return bytes.append(contentsOf: written.object) }
        raw("{")
        if let id = node.id {
            raw(#""id":"#)
            string(id)
            raw(",")
        }
        raw(#""nodeIp":"#)
        string(node.nodeIp)
        raw(node.tls ? #","tls":true}"# : #","tls":false}"#)
    }
}
