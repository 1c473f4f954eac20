#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// An event a node sent over WebSocket, read leniently: unknown types and fields are kept as they are.
public struct ReceivedEvent: Decodable, Sendable, Equatable {
    public struct Content: Decodable, Sendable, Equatable {
        public var nodeIp: String?
        public var nodeList: [String]?
        public var id: String?
        public var version: String?
        public var code: String?
        public var message: String?
        /// Whether the announced node (or the node itself, in `nodeConnected`) speaks TLS.
        public var tls: Bool?
        /// `nodeList`'s details: each peer's address, id and TLS.
        public var nodes: [Announcement]?

        public struct Announcement: Decodable, Sendable, Equatable {
            public var nodeIp: String
            public var id: String?
            public var tls: Bool?
        }

        public init(
            nodeIp: String? = nil, nodeList: [String]? = nil, id: String? = nil, version: String? = nil,
            code: String? = nil, message: String? = nil
        ) {
            self.nodeIp = nodeIp
            self.nodeList = nodeList
            self.id = id
            self.version = version
            self.code = code
            self.message = message
        }
    }

    public var type: String
    public var content: Content

    enum CodingKeys: String, CodingKey { case type, content }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        type = try container.decode(String.self, forKey: .type)
        content = (try? container.decodeIfPresent(Content.self, forKey: .content)) ?? Content()
    }

    public init(type: String, content: Content = Content()) {
        self.type = type
        self.content = content
    }

    public static func decode(_ text: String) -> ReceivedEvent? {
        try? JSONDecoder().decode(ReceivedEvent.self, from: Data(text.utf8))
    }
}

extension WebSocketPeer {
    /// The next message that is an event; a close frame or the end of the connection gives nil.
    public func nextEvent() async -> ReceivedEvent? {
        while let message = await next() {
            switch message {
            case .text(let text):
                if let event = ReceivedEvent.decode(text) { return event }
            case .binary:
                continue
            case .close:
                return nil
            }
        }
        return nil
    }
}
