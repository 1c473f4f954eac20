import AshitaClient
import AshitaTestSupport
import Foundation
import Testing

/// The CLI against servers that are not ashita nodes and mean harm: it gives up within its bounds, exits 69
/// with a line that says what happened, and never passes a server's control characters to the terminal.
@Suite struct HostileServerTests {
    static let eventStreamHead = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n"

    @Test(arguments: [
        ("x", "sent a line over 64 KiB"),
        ("data: x\n", "sent an event over 256 KiB"),
    ])
    func watchStopsAnEndlessLineOrEvent(_ chunk: String, _ message: String) async throws {
        // At most 64 MB, then the server gives up by itself.
        let server = try PlainHTTPServer(.endless(head: Self.eventStreamHead, chunk: String(repeating: chunk, count: 4096), limit: 64 << 20))
        defer { server.stop() }
        let result = try await ashita("watch", "127.0.0.1:\(server.port)")
        #expect(result.status == 69)
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func watchGivesUpOnASilentServerWithinItsTimeout() async throws {
        let server = try PlainHTTPServer(.silent)
        defer { server.stop() }
        let result = try await ashita("watch", "127.0.0.1:\(server.port)", "--timeout", "1")
        #expect(result.status == 69)
        #expect(result.stderr.contains("no answer within 1 s"), "\(result.stderr)")
    }

    @Test func connectOnceGivesUpWhenAServerUpgradesAndSaysNothing() async throws {
        let server = try await StrangerWebSocketServer(sending: [])
        let result = try await ashita("connect", "127.0.0.1:\(server.port)", "--once", "--timeout", "2")
        await server.stop()
        // Without a bound it would wait until the test's guard kills it. (On a very busy machine the handshake
        // itself may be what takes longer than the timeout: also a set-up that gives up.)
        #expect(result.status == 69)
        #expect(
            result.stderr.contains("did not answer auth within 2.0 s") || result.stderr.contains("handshake in time"),
            "\(result.stderr)")
    }

    @Test func controlCharactersFromAServerNeverReachTheTerminal() async throws {
        let escape = #"\u001b]0;pwned\u0007\u001b[2J\u202e"#
        let server = try await StrangerWebSocketServer(sending: [
            #"{"type":"nodeConnected","content":{"nodeIp":"\#(escape)","id":"x\#(escape)","version":"1"}}"#,
            #"{"type":"nodeList","content":{"nodeList":["\#(escape)"]}}"#,
        ])
        let human = try await ashita("connect", "127.0.0.1:\(server.port)", "--once")
        await server.stop()
        #expect(human.status == 0, "\(human.stderr)")
        #expect(!human.stdout.contains("\u{1B}") && !human.stdout.contains("\u{7}") && !human.stdout.contains("\u{202E}"))
        #expect(human.stdout.contains(#"\u{1b}]0;pwned\u{7}"#), "\(human.stdout)")

        let events = try PlainHTTPServer(response: Self.eventStreamHead
            + #"id: a-1\#ndata: {"id":"a-1","time":"2026-11-26T10:00:00.000Z","type":"nodeLeft\#(escape)","content":{"nodeIp":"\#(escape)"}}\#n\#n"#)
        defer { events.stop() }
        let watched = try await ashita("watch", "127.0.0.1:\(events.port)", "--count", "1")
        #expect(watched.status == 0, "\(watched.stderr)")
        #expect(!watched.stdout.contains("\u{1B}") && !watched.stdout.contains("\u{7}"))
        #expect(watched.stdout.contains(#"\u{1b}[2J"#), "\(watched.stdout)")
    }
}
