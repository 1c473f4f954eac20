import Foundation
import Testing

@testable import AshitaCore

@Suite struct ClientMessageTests {
    private func decode(_ text: String) -> Result<ClientMessage, ProtocolViolation> {
        ClientMessage.decode(Array(text.utf8))
    }

    @Test func readsTheOriginalAuth() throws {
        let message = try decode(#"{"type":"auth","node":"127.0.0.1:9000","content":{}}"#).get()
        #expect(message == .auth(home: try NodeAddress(parsing: "127.0.0.1:9000"), token: nil))
    }

    @Test func encodesWhatItDecodes() throws {
        let home = try NodeAddress(parsing: "127.0.0.1:9000")
        for message in [ClientMessage.auth(home: home, token: nil), .auth(home: nil, token: "t\"ok"), .ping] {
            #expect(try decode(message.text).get() == message)
        }
        #expect(ClientMessage.auth(home: home, token: nil).text == #"{"content":{},"node":"127.0.0.1:9000","type":"auth"}"#)
    }

    @Test func observersAndOperators() throws {
        #expect(try decode(#"{"type":"auth"}"#).get() == .auth(home: nil, token: nil))
        #expect(try decode(#"{"type":"auth","node":null,"content":"ignored"}"#).get() == .auth(home: nil, token: nil))
        #expect(try decode(#"{"type":"auth","content":{"token":"abc"}}"#).get() == .auth(home: nil, token: "abc"))
        #expect(try decode(#"{"type":"ping"}"#).get() == .ping)
    }

    @Test(arguments: [
        ("hello", ErrorCode.badJSON), ("null", .badJSON), ("[]", .badJSON), ("42", .badJSON), (#""auth""#, .badJSON),
        ("{", .badJSON), ("{}", .badType), (#"{"type":null}"#, .badType), (#"{"type":7}"#, .badType),
        (#"{"type":"constructor"}"#, .badType), (#"{"type":"__proto__"}"#, .badType),
        (#"{"type":"toString","node":"127.0.0.1:1"}"#, .badType), (#"{"type":"nodeDiscovered"}"#, .badType),
        (#"{"type":"auth","node":{"a":1}}"#, .badNode), (#"{"type":"auth","node":["x"]}"#, .badNode),
        (#"{"type":"auth","node":"../../x"}"#, .badNode), (#"{"type":"auth","node":"<img src=x>:80"}"#, .badNode),
        (#"{"type":"auth","node":"127.0.0.1:0"}"#, .badNode), (#"{"type":"auth","node":12}"#, .badNode),
        (#"{"type":"auth","content":{"token":5}}"#, .badJSON),
    ])
    func rejects(_ text: String, _ code: ErrorCode) {
        guard case .failure(let violation) = decode(text) else {
            Issue.record("accepted \(text)")
            return
        }
        #expect(violation.code == code)
        #expect(!violation.message.isEmpty)
    }

    @Test func rejectsInvalidUTF8() {
        guard case .failure(let violation) = ClientMessage.decode([0x7B, 0xFF, 0xFE, 0x7D]) else {
            Issue.record("accepted invalid UTF-8")
            return
        }
        #expect(violation == ProtocolViolation(.badJSON, "frame is not valid UTF-8 text"))
    }

    @Test func encodesEventsAsTheOriginalDid() throws {
        let node = try NodeAddress(parsing: "127.0.0.1:9000")
        // The original's fields stay where they were; what verification learned is added beside them.
        let verified = PeerAnnouncement(node, PeerFacts(id: "abc", tls: true))
        #expect(String(decoding: ServerEvent.nodeDiscovered(verified).encoded(), as: UTF8.self)
            == #"{"content":{"id":"abc","nodeIp":"127.0.0.1:9000","tls":true},"type":"nodeDiscovered"}"#)
        #expect(String(decoding: ServerEvent.nodeDiscovered(PeerAnnouncement(node, .unverified)).encoded(), as: UTF8.self)
            == #"{"content":{"nodeIp":"127.0.0.1:9000","tls":false},"type":"nodeDiscovered"}"#)
        #expect(String(decoding: ServerEvent.nodeList([verified]).encoded(), as: UTF8.self)
            == #"{"content":{"nodeList":["127.0.0.1:9000"],"nodes":[{"id":"abc","nodeIp":"127.0.0.1:9000","tls":true}]},"type":"nodeList"}"#)
        #expect(String(decoding: ServerEvent.pong.encoded(), as: UTF8.self) == #"{"content":{},"type":"pong"}"#)
        #expect(String(decoding: ServerEvent.nodeLeft(node).encoded(), as: UTF8.self)
            == #"{"content":{"nodeIp":"127.0.0.1:9000"},"type":"nodeLeft"}"#)
    }

    /// The hand-written encoding of the hot events gives JSONEncoder's bytes, whatever the strings hold.
    @Test(arguments: ["plain", "quote\"back\\slash/", "tab\tnew\nline\u{01}\u{1F}", "ünï©ødé"])
    func handWrittenEventsMatchJSONEncoder(_ id: String) throws {
        let nodes = [
            PeerAnnouncement(try NodeAddress(parsing: "127.0.0.1:9000"), PeerFacts(id: id, tls: true)),
            PeerAnnouncement(try NodeAddress(parsing: "[::1]:1"), .unverified),
        ]
        struct Content: Encodable { var nodeList: [String]; var nodes: [PeerAnnouncement] }
        struct Envelope<C: Encodable>: Encodable { var content: C; var type: String }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let list = try encoder.encode(Envelope(content: Content(nodeList: nodes.map(\.nodeIp), nodes: nodes), type: "nodeList"))
        #expect(ServerEvent.nodeList(nodes).encoded() == Array(list))
        // The peer table's announcements carry their JSON already written (`written`): copied, the same bytes,
        // alone or mixed with announcements written afresh (the mesh's members).
        let written = nodes.map { node in
            var node = node
            node.written = PeerAnnouncement.Written(node)
            return node
        }
        #expect(ServerEvent.nodeList(written).encoded() == Array(list))
        #expect(ServerEvent.nodeList([written[0], nodes[1]]).encoded() == Array(list))
        #expect(written == nodes, "what is written is no part of the value")
        #expect(ServerEvent.nodeList([]).encoded() == Array(#"{"content":{"nodeList":[],"nodes":[]},"type":"nodeList"}"#.utf8))
        let discovered = try encoder.encode(Envelope(content: nodes[0], type: "nodeDiscovered"))
        #expect(ServerEvent.nodeDiscovered(nodes[0]).encoded() == Array(discovered))
        #expect(ServerEvent.nodeDiscovered(written[0]).encoded() == Array(discovered))
    }
}
