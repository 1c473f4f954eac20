import AshitaClient
import AshitaCore
import AshitaNode
import AshitaSystem
import AshitaTestSupport
import Foundation
import Testing

/// Attacks below and on HTTP, each over raw sockets: the node answers or closes as the protocol says, within its
/// deadlines, and keeps serving everyone else. Each test would hang, time out or see the wrong answer on a node
/// without the defence it names.
@Suite(.serialized) struct HostileHTTPTests {
    /// Reads what the node sends until it closes, off the cooperative pool.
    private func drain(_ connection: RawConnection) async -> (text: String, closed: Bool) {
        let (bytes, closed) = await onDedicatedThread { connection.readUntilClosed() }
        return (String(decoding: bytes, as: UTF8.self), closed)
    }

    private func expectHealthy(_ node: NodeServer, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        // Generous: the suite runs many nodes at once on two cores; this guards against a hang, not a delay.
        let status = try await CurlHTTPClient(timeoutSeconds: 20).get("\(node.url)/healthz").status
        #expect(status == 200, sourceLocation: sourceLocation)
    }

    @Test func aBodyThatNeverArrivesIsCutOffAtItsDeadline() async throws {
        try await withNode(configure: { $0.limits.bodyTimeout = .seconds(0.5) }) { node in
            // The head promises 10,000 bytes; 3 come. The header timeout (10 s) is not what ends it.
            let stalled = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 5))
            stalled.send("POST /api/v1/auth HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\nabc")
            let (text, closed) = await drain(stalled)
            #expect(closed, "still open after 5 s: \(text)")
            try await expectHealthy(node)
        }
    }

    @Test func aReaderThatNeverReadsItsAnswersIsClosed() async throws {
        try await withNode(configure: {
            $0.limits.sendTimeout = .seconds(0.5)
            $0.limits.httpOutboundBytes = 4096
            $0.limits.socketSendBufferBytes = 4096
        }) { node in
            // 50,000 pipelined requests for the script (about 1.8 MB), never reading an answer: the answers fill
            // the socket, the node stops reading requests, so this send blocks, until the node hangs up after its
            // send timeout and the send fails. A node that kept reading, or never hung up, lets the send finish
            // or leaves it blocked until the socket's own 10 s send timeout.
            let reader = try #require(
                RawConnection(port: node.localPort, receiveTimeoutSeconds: 10, receiveBuffer: 4096, sendBuffer: 4096))
            let requests = String(repeating: "GET /ashita.js HTTP/1.1\r\nHost: x\r\n\r\n", count: 50_000)
            let (sent, closed) = await onDedicatedThread { (reader.send(requests), reader.waitForPeerClose(seconds: 0)) }
            #expect(!sent, "the node read 50,000 requests whose answers nobody read")
            #expect(closed, "the node did not hang up on a client that reads none of its answers")
            try await expectHealthy(node)
        }
    }

    @Test func anEventStreamNobodyReadsIsClosed() async throws {
        try await withNode(configure: {
            $0.limits.sendTimeout = .seconds(0.5)
            $0.limits.httpOutboundBytes = 4096
            $0.limits.socketSendBufferBytes = 4096
        }) { node in
            let subscriber = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 10, receiveBuffer: 4096))
            subscriber.send("GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await onDedicatedThread { subscriber.readHead() }?.hasPrefix("HTTP/1.1 200") == true)
            // More events than its buffers hold (each join and leave is three events of about 150 bytes: 100
            // rounds make about 45 KB), then the send timeout: the node closes the stream.
            let watcher = try await EventSubscription(node, types: "clientDisconnected")
            for _ in 0..<100 {
                let peer = try await WebSocketPeer.joined(node, home: nil)
                await peer.close()
                _ = try await within(5, "a disconnect event") { try await watcher.next() }
            }
            #expect(await onDedicatedThread { subscriber.waitForPeerClose(seconds: 10) }, "the stream of a reader that never reads stayed open")
            try await expectHealthy(node)
        }
    }

    @Test func aHeadIsRefusedAsItsBytesArriveNotWhenItEnds() async throws {
        try await withNode(configure: { $0.limits.maxHeaderBytes = 16 * 1024 }) { node in
            // 4-byte headers, 20 KiB of them, and no end: answered 431 at once, not at the header timeout.
            let attacker = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 5))
            attacker.send("GET /healthz HTTP/1.1\r\n" + String(repeating: "a:b\r\n", count: 4096))
            let (text, closed) = await drain(attacker)
            #expect(text.hasPrefix("HTTP/1.1 431"), "\(text.prefix(80))")
            #expect(text.contains(#""code":"headers-too-large""#))
            #expect(closed)
            try await expectHealthy(node)
        }
    }

    @Test func aLongHeadIsRefusedAtItsByteLimitNotAtItsEnd() async throws {
        try await withNode(configure: { $0.limits.headerTimeout = .seconds(30) }) { node in
            // One header of 20 KB and no end: a few lines, many bytes.
            let attacker = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 5))
            attacker.send("GET /healthz HTTP/1.1\r\nX-Long: " + String(repeating: "x", count: 20_000))
            let (text, closed) = await drain(attacker)
            #expect(text.hasPrefix("HTTP/1.1 431"), "\(text.prefix(80))")
            #expect(text.contains("request head over 16384 bytes"))
            #expect(closed)
        }
    }

    @Test func aBodyOverTheLimitIsAnswered413() async throws {
        try await withNode { node in
            let client = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 5))
            client.send("POST /api/v1/auth HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n" + String(repeating: "b", count: 20_000))
            let (text, closed) = await drain(client)
            #expect(text.hasPrefix("HTTP/1.1 413"), "\(text.prefix(80))")
            #expect(text.contains(#""message":"request body over 16384 bytes""#))
            #expect(closed)
        }
    }

    @Test func aMalformedRequestIsAnsweredAndClosedAtOnce() async throws {
        try await withNode(configure: { $0.limits.headerTimeout = .seconds(30) }) { node in
            let attacker = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 5))
            attacker.send("GARBAGE GARBAGE GARBAGE\r\n\r\n")
            let (text, closed) = await drain(attacker)
            #expect(text.hasPrefix("HTTP/1.1 400"), "\(text.prefix(80))")
            #expect(closed, "the connection stays open after its 400: \(text)")
        }
    }

    @Test func expectContinueIsAnswered() async throws {
        try await withNode { node in
            let client = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 5))
            client.send("POST /api/v1/auth HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
            #expect(await onDedicatedThread { client.readHead() }?.hasPrefix("HTTP/1.1 100 Continue") == true)
            client.send("hello")
            #expect(await onDedicatedThread { client.readHead() }?.hasPrefix("HTTP/1.1 401") == true)

            let odd = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 5))
            odd.send("POST /api/v1/auth HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: something-else\r\n\r\n")
            let (text, closed) = await drain(odd)
            #expect(text.hasPrefix("HTTP/1.1 417"), "\(text.prefix(80))")
            #expect(closed)

            let big = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 5))
            big.send("POST /api/v1/auth HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\nExpect: 100-continue\r\n\r\n")
            #expect(await drain(big).text.hasPrefix("HTTP/1.1 413"))
        }
    }

    static let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    static let upgrades: [(String, String)] = [
        ("POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\(key)Content-Length: 0\r\n\r\n", "HTTP/1.1 400"),
        ("GET / HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\(key)\r\n", "HTTP/1.0 400"),
        ("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n", "HTTP/1.1 400"),
        ("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n", "HTTP/1.1 400"),
        ("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n\(key)\r\n", "HTTP/1.1 426"),
        ("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\(key)\r\n", "HTTP/1.1 426"),
        ("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\nSec-WebSocket-Version: 13\r\n\(key)\r\n", "HTTP/1.1 400"),
    ]

    @Test(arguments: upgrades)
    func aMalformedUpgradeIsRefusedNeverServedThePage(_ request: String, _ status: String) async throws {
        try await withNode { node in
            let client = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 5))
            client.send(request)
            let (text, _) = await drain(client)
            #expect(text.hasPrefix(status), "\(text.prefix(120))")
            #expect(!text.contains("<html"), "the page was served to a WebSocket request")
            if status.hasSuffix("426") { #expect(text.contains("Sec-WebSocket-Version: 13")) }
        }
    }

    @Test func aFloodOfIdleConnectionsCannotKeepOthersOut() async throws {
        try await withNode(configure: { $0.limits.maxConnections = 40; $0.limits.headerTimeout = .seconds(60) }) { node in
            // 10 source addresses, 8 silent connections each (all the node takes): then more keep coming.
            var silent: [RawConnection] = []
            for host in 2...11 {
                for _ in 0..<8 { if let c = RawConnection(port: node.localPort, from: "127.0.0.\(host)") { silent.append(c) } }
            }
            #expect(silent.count == 80)
            // A well-behaved client still gets in, again and again: each displaces the oldest idle one.
            for _ in 0..<5 { try await expectHealthy(node) }
            // 40 made room for the second 40, and at least one more for the well-behaved requests (each request's
            // connection closes after it, leaving its room to the next).
            let all = silent
            let displaced = await onDedicatedThread { RawConnection.waitForClosures(all, count: 41, seconds: 10) }
            #expect(displaced >= 41, "idle connections make room for newcomers")
        }
    }

    @Test func whenEveryConnectionIsBusyNewcomersAreRefused() async throws {
        try await withNode(configure: { $0.limits.maxConnections = 3 }) { node in
            var busy: [WebSocketPeer] = []
            for _ in 0..<3 { busy.append(try await WebSocketPeer.joined(node, home: nil)) }
            await #expect(throws: (any Error).self) { _ = try await CurlHTTPClient(timeoutSeconds: 2).get("\(node.url)/healthz") }
            // The busy ones are untouched.
            try await busy[0].send(#"{"type":"ping"}"#)
            try await busy[0].expect("pong")
        }
    }

    @Test func anyLastEventIDIsAnsweredTheLargestIncluded() async throws {
        try await withNode { node in
            _ = try await WebSocketPeer.joined(node, home: nil)
            // The stream's first id gives away the node's boot; the largest sequence after it must not trap.
            let opener = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 5))
            opener.send("GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = await onDedicatedThread { opener.readHead() }
            let preamble = await onDedicatedThread { String(decoding: opener.read(count: 64) ?? [], as: UTF8.self) }
            let boot = try #require(preamble.firstMatch(of: /id: ([0-9a-z]+)-/).map { String($0.1) }, "\(preamble)")
            for id in ["\(boot)-18446744073709551615", "\(boot)-18446744073709551614", "\(boot)-99999999999999999999"] {
                let attacker = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 5))
                attacker.send("GET /api/v1/events HTTP/1.1\r\nHost: x\r\nLast-Event-ID: \(id)\r\n\r\n")
                #expect(await onDedicatedThread { attacker.readHead() }?.hasPrefix("HTTP/1.1 200") == true, "\(id)")
            }
            try await expectHealthy(node)
        }
    }

    @Test func afterARequestTheParserTakesForAnUpgradeTheConnectionCloses() async throws {
        try await withNode(configure: { $0.limits.headerTimeout = .seconds(30) }) { node in
            // Alone, then nothing: answered with Connection: close and closed, not kept for a next request.
            let quiet = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 5))
            quiet.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
            let (answer, quietClosed) = await drain(quiet)
            #expect(answer.hasPrefix("HTTP/1.1 200") && answer.contains("Connection: close"), "\(answer.prefix(120))")
            #expect(quietClosed)
            // A declined h2c upgrade, then more bytes: answered, and closed (the parser would read no more).
            let h2c = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 5))
            h2c.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n" + String(repeating: "junk", count: 10_000))
            let (text, closed) = await drain(h2c)
            #expect(text.hasPrefix("HTTP/1.1 200"), "\(text.prefix(80))")
            #expect(text.contains("Connection: close"))
            #expect(closed)
            // A WebSocket upgrade as a kept-alive connection's second request: refused, never the page.
            let second = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 5))
            second.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" + RawConnection.upgradeRequest)
            let (answers, secondClosed) = await drain(second)
            #expect(answers.hasPrefix("HTTP/1.1 200"))
            #expect(answers.contains("HTTP/1.1 400"), "\(answers)")
            #expect(!answers.contains("<html"))
            #expect(secondClosed)
        }
    }

    @Test func endlessTrailersAreRefused() async throws {
        try await withNode(configure: { $0.limits.headerTimeout = .seconds(30); $0.limits.bodyTimeout = .seconds(30) }) { node in
            let attacker = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 5))
            attacker.send("POST /api/v1/auth HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n" + String(repeating: "a:b\r\n", count: 40_000))
            let (text, closed) = await drain(attacker)
            #expect(text.hasPrefix("HTTP/1.1 4"), "\(text.prefix(80))")
            #expect(closed, "the node held 40,000 trailer fields")
            try await expectHealthy(node)
        }
    }

    @Test func oneAddressCannotTakeEveryEventStream() async throws {
        try await withNode(configure: { $0.limits.maxEventStreamsPerIP = 2 }) { node in
            var streams: [RawConnection] = []
            for _ in 0..<2 {
                let stream = try #require(RawConnection(port: node.localPort, from: "127.0.0.2"))
                stream.send("GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
                #expect(await onDedicatedThread { stream.readHead() }?.hasPrefix("HTTP/1.1 200") == true)
                streams.append(stream)
            }
            let third = try #require(RawConnection(port: node.localPort, from: "127.0.0.2"))
            third.send("GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
            let refused = await drain(third).text
            #expect(refused.hasPrefix("HTTP/1.1 429"), "\(refused.prefix(80))")
            #expect(refused.contains(#""code":"busy""#))
            let other = try #require(RawConnection(port: node.localPort, from: "127.0.0.3"))
            other.send("GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await onDedicatedThread { other.readHead() }?.hasPrefix("HTTP/1.1 200") == true)
            withExtendedLifetime(streams) {}
        }
    }
}
