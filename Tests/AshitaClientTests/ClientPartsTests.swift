import AshitaCore
import Foundation
import Testing

@testable import AshitaClient

/// The client's parts that need no node: the event-stream parser, the resume position, the credential store.
@Suite struct ServerSentEventParserTests {
    @Test func readsEventsCommentsAndPositionsInChunksOfAnySize() throws {
        let stream = "retry: 1000\nid: b-0\n: ashita 127.0.0.1:8000 events\n\nid: b-1\nevent: nodeLeft\ndata: {\"a\":1}\n\n"
            + ": heartbeat\r\n\r\nid: b-2\r\ndata: line one\r\ndata: line two\r\n\r\n"
        let expected: [ServerSentEventParser.Item] = [
            // A block's position is known at its end, after the comment in it.
            .comment("ashita 127.0.0.1:8000 events"), .position("b-0"),
            .event(ServerSentEvent(id: "b-1", event: "nodeLeft", data: #"{"a":1}"#)), .comment("heartbeat"),
            .event(ServerSentEvent(id: "b-2", event: nil, data: "line one\nline two")),
        ]
        for chunkSize in [1, 2, 3, 7, 1000] {
            var parser = ServerSentEventParser()
            var items: [ServerSentEventParser.Item] = []
            let bytes = Array(stream.utf8)
            for start in stride(from: 0, to: bytes.count, by: chunkSize) {
                items += try parser.feed(bytes[start..<min(start + chunkSize, bytes.count)])
            }
            #expect(items == expected, "chunks of \(chunkSize)")
        }
    }

    @Test func anEndlessLineOrEventIsAnErrorNotABuffer() {
        var parser = ServerSentEventParser()
        #expect(throws: ServerSentEventParser.Overflow.line) {
            _ = try parser.feed([UInt8](repeating: 0x61, count: ServerSentEventParser.maxLineBytes + 1))
        }
        var events = ServerSentEventParser()
        let line = Array(("data: " + String(repeating: "x", count: 1000) + "\n").utf8)
        #expect(throws: ServerSentEventParser.Overflow.event) {
            for _ in 0..<300 { _ = try events.feed(line) }
        }
        // A blank line ends an event and its count.
        var fine = ServerSentEventParser()
        #expect(throws: Never.self) {
            for _ in 0..<1000 { _ = try fine.feed(line + [0x0A]) }
        }
    }
}

@Suite struct EventStreamPositionTests {
    @Test func resumesAfterWhatItTookAndNeverTakesAnEventTwice() {
        var position = EventStreamPosition()
        #expect(position.connected() == (true, nil))
        #expect(position.connected() == (false, nil))
        position.start(at: "b-4")
        #expect(position.lastID == "b-4")
        #expect(position.take("b-5") == (true, nil))
        #expect(position.take("b-6") == (true, nil))
        position.disconnected()
        // The same node replays from b-5 after a reconnect: what was taken is skipped.
        #expect(position.connected() == (true, .reconnected))
        #expect(position.lastID == "b-6")
        #expect(position.take("b-5").isNew == false)
        #expect(position.take("b-6").isNew == false)
        #expect(position.take("b-7") == (true, nil))
        #expect(position.taken == 3)
    }

    @Test func aRestartedNodeIsSaidAndItsEventsTaken() {
        var position = EventStreamPosition(replay: true)
        #expect(position.lastID == "0")
        _ = position.connected()
        #expect(position.take("old-1") == (true, nil))
        #expect(position.take("old-2") == (true, nil))
        position.disconnected()
        _ = position.connected()
        // A new run numbers from 1 again: new all the same.
        #expect(position.take("new-1") == (true, .restarted))
        #expect(position.take("new-2") == (true, nil))
        #expect(position.lastID == "new-2")
    }
}

@Suite struct CredentialStoreTests {
    @Test func keepsOneTokenPerNodeOwnerOnly() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ashita-credentials-\(UUID().uuidString)").path
        let store = CredentialStore(path: "\(directory)/ashita/credentials.json")
        let node = try NodeAddress(parsing: "127.0.0.1:8000")
        #expect(try store.token(for: node) == nil)
        try store.save("abc", for: node, at: Timestamp(milliseconds: 0))
        try store.save("def", for: try NodeAddress(parsing: "127.0.0.1:9000"), at: Timestamp(milliseconds: 0))
        #expect(try store.token(for: node) == "abc")
        let mode = try FileManager.default.attributesOfItem(atPath: store.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try store.remove(node))
        #expect(try store.remove(node) == false)
        #expect(try store.token(for: node) == nil)
        #expect(try store.token(for: try NodeAddress(parsing: "127.0.0.1:9000")) == "def")
    }
}
