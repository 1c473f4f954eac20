import AshitaClient
import AshitaCore
import AshitaNode
import AshitaSystem
import AshitaTestSupport
import Foundation
import NIOPosix
import Testing

/// Frames RFC 6455 says a server must refuse, and floods of control frames, sent over raw sockets (a real
/// client library would not send them): the node closes with the code the RFC names, and says why.
@Suite struct HostileWebSocketTests {
    /// An upgraded raw WebSocket to `node`, authenticated as an observer so the auth timeout plays no part.
    private func rawClient(_ node: NodeServer) async throws -> RawConnection {
        let connection = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 10))
        #expect(await onDedicatedThread { connection.upgradeToWebSocket() })
        connection.send(RawConnection.frame(opcode: 0x1, payload: Array(#"{"type":"auth"}"#.utf8)))
        return connection
    }

    private func closeOf(_ connection: RawConnection) async -> (code: UInt16?, reason: String)? {
        await onDedicatedThread { connection.readUntilCloseFrame() }
    }

    static let violations: [(String, [UInt8], String)] = [
        ("unmasked", RawConnection.frame(opcode: 0x1, payload: Array(#"{"type":"ping"}"#.utf8), masked: false), "client frames must be masked"),
        ("rsv1", RawConnection.frame(opcode: 0x1, payload: Array(#"{"type":"ping"}"#.utf8), rsv: 0b100), "reserved bits set, but no extension was agreed"),
        ("rsv3", RawConnection.frame(opcode: 0x9, payload: [], rsv: 0b001), "reserved bits set, but no extension was agreed"),
        ("opcode 3", RawConnection.frame(opcode: 0x3, payload: [1]), "reserved opcode 3"),
        ("opcode 11", RawConnection.frame(opcode: 0xB, payload: []), "reserved opcode 11"),
    ]

    @Test(arguments: violations)
    func aFrameTheProtocolForbidsClosesWith1002(_ name: String, _ frame: [UInt8], _ reason: String) async throws {
        try await withNode { node in
            let bystander = try await WebSocketPeer.joined(node, home: nil)
            let client = try await rawClient(node)
            client.send(frame)
            let close = await closeOf(client)
            #expect(close?.code == 1002, "\(name): \(String(describing: close))")
            #expect(close?.reason == "protocol error: \(reason)")
            try await bystander.expectNothingButPong()
        }
    }

    @Test(arguments: [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] as [UInt16])
    func aCloseCodeNoPeerMaySendIsAnswered1002(_ code: UInt16) async throws {
        try await withNode { node in
            let client = try await rawClient(node)
            client.send(RawConnection.frame(opcode: 0x8, payload: [UInt8(code >> 8), UInt8(code & 0xFF)]))
            let close = await closeOf(client)
            #expect(close?.code == 1002, "code \(code): \(String(describing: close))")
            #expect(close?.reason == "protocol error: close code \(code) is not one a peer may send")
        }
    }

    @Test func closePayloadsAreChecked() async throws {
        try await withNode { node in
            let oneByte = try await rawClient(node)
            oneByte.send(RawConnection.frame(opcode: 0x8, payload: [0x03]))
            #expect(await closeOf(oneByte)?.code == 1002)

            let badReason = try await rawClient(node)
            badReason.send(RawConnection.frame(opcode: 0x8, payload: [0x03, 0xE8, 0xC3, 0x28]))
            #expect(await closeOf(badReason)?.code == 1007)

            for code: UInt16 in [1000, 1001, 3000, 4999] {
                let fine = try await rawClient(node)
                fine.send(RawConnection.frame(opcode: 0x8, payload: [UInt8(code >> 8), UInt8(code & 0xFF)] + Array("bye".utf8)))
                #expect(await closeOf(fine)?.code == code, "a valid code is echoed")
            }
            let empty = try await rawClient(node)
            empty.send(RawConnection.frame(opcode: 0x8, payload: []))
            #expect(await closeOf(empty)?.code == 1000)
        }
    }

    @Test(arguments: [0x9, 0xA] as [UInt8])
    func aControlFrameFloodIsLimitedThenClosed(_ opcode: UInt8) async throws {
        try await withNode(configure: { $0.limits.messageRate = 1; $0.limits.messageBurst = 10 }) { node in
            let bystander = try await WebSocketPeer.joined(node, home: nil)
            let flooder = try await rawClient(node)
            // 200 pings (or pongs nobody asked for): a few answered, then `rate-limited`, then 1008.
            let flood = Array([[UInt8]](repeating: RawConnection.frame(opcode: opcode, payload: [0x61]), count: 200).joined())
            let started = ContinuousClock.now
            flooder.send(flood)
            var pongs = 0
            var refusals = 0
            var closeCode: UInt16?
            for _ in 0..<1000 {
                guard let frame = await onDedicatedThread({ flooder.readFrame() }) else { break }
                switch frame.opcode {
                case 0xA: pongs += 1
                case 0x1 where String(decoding: frame.payload, as: UTF8.self).contains("rate-limited"): refusals += 1
                case 0x8:
                    closeCode = frame.payload.count >= 2 ? UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1]) : nil
                default: break
                }
                if closeCode != nil { break }
            }
            #expect(closeCode == 1008)
            #expect(refusals >= 1)
            // The auth frame took one token of the burst of 10; one more comes each second the flood lasts.
            let seconds = Int((ContinuousClock.now - started).components.seconds) + 1
            #expect(pongs <= (opcode == 0x9 ? 9 + seconds : 0), "pongs beyond the rate: \(pongs) in \(seconds) s")
            try await bystander.expectNothingButPong()
        }
    }

    /// A flooder whose frames the node never reads still gets its close frame: the node stops decoding what it
    /// sends but goes on reading it, so closing does not become a reset that drops the close.
    @Test func aFlooderReadsItsCloseFrame() async throws {
        try await withNode(configure: { $0.limits.messageRate = 1; $0.limits.messageBurst = 3 }) { node in
            let flooder = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 10))
            #expect(await onDedicatedThread { flooder.upgradeToWebSocket() })
            // 3,000 pings (about 45 KB): a few answered, five refused, then the close; most never looked at.
            let flood = Array([[UInt8]](repeating: RawConnection.frame(opcode: 0x1, payload: Array(#"{"type":"ping"}"#.utf8)), count: 3000).joined())
            await onDedicatedThread { _ = flooder.send(flood) }
            let close = await onDedicatedThread { flooder.readUntilCloseFrame() }
            #expect(close?.code == CloseReason.policyViolation.code && close?.reason == CloseReason.policyViolation.reason, "\(String(describing: close))")
        }
    }

    /// A client that sends faster than the mesh's thread takes frames is held back in its own TCP window: with the
    /// mesh's thread stopped, the node reads no more than a few frames ahead, and the client's sends stall long
    /// before the 24 MB of pings it has are gone. Once the thread goes on, the flood is closed as usual.
    @Test func framesWaitingForTheMeshStopTheReading() async throws {
        let meshLoops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let gate = DispatchSemaphore(value: 0)
        try await withNode(configure: {
            $0.meshEventLoop = meshLoops.next()
            $0.limits.messageRate = 1
            $0.limits.messageBurst = 10
        }) { node in
            let flooder = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 2, sendBuffer: 65536))
            #expect(await onDedicatedThread { flooder.upgradeToWebSocket() })
            meshLoops.next().execute { gate.wait() }
            let ping = RawConnection.frame(opcode: 0x9, payload: [UInt8](repeating: 0x61, count: 125))
            let limit = 24 << 20
            let sent = await onDedicatedThread { flooder.sendRepeatedly(ping, upTo: limit) }
            gate.signal()
            // What the kernel buffers hold (the client's 64 KiB, the node's receive window): a few MB at most.
            #expect(sent < 8 << 20, "\(sent) bytes sent while the mesh's thread stood still")
            #expect(await onDedicatedThread { flooder.readUntilCloseFrame() }?.code == 1008)
            let bystander = try await WebSocketPeer.joined(node, home: nil)
            try await bystander.expectNothingButPong()
        }
        try await meshLoops.shutdownGracefully()
    }

    /// Frames that ride in the same packet as the upgrade request reach the WebSocket side as frames (a node that
    /// took them for HTTP trapped on them), and the node stays up for everyone.
    @Test func framesInTheUpgradesPacketAreFrames() async throws {
        try await withNode { node in
            let bystander = try await WebSocketPeer.joined(node, home: nil)
            let client = try #require(RawConnection(port: node.localPort))
            client.send(Array(RawConnection.upgradeRequest.utf8)
                + RawConnection.frame(opcode: 0x1, payload: Array(#"{"type":"auth","node":"127.0.0.1:7710"}"#.utf8))
                + RawConnection.frame(opcode: 0x1, payload: Array(#"{"type":"ping"}"#.utf8)))
            #expect(await onDedicatedThread { client.readHead() }?.hasPrefix("HTTP/1.1 101") == true)
            try await bystander.expectFrame(discoveredFrame("127.0.0.1:7710"))
            var types: [String] = []
            for _ in 0..<3 {
                guard let frame = await onDedicatedThread({ client.readFrame() }), frame.opcode == 0x1 else { break }
                types.append(try #require(ReceivedEvent.decode(String(decoding: frame.payload, as: UTF8.self))).type)
            }
            #expect(types == ["nodeConnected", "nodeList", "pong"])
            // Garbage in the same packet as an upgrade is a protocol error, not a crash.
            let rude = try #require(RawConnection(port: node.localPort))
            rude.send(Array(RawConnection.upgradeRequest.utf8) + [0x81, 0x05] + Array("plain".utf8))
            #expect(await onDedicatedThread { rude.readHead() }?.hasPrefix("HTTP/1.1 101") == true)
            #expect(await onDedicatedThread { rude.readUntilCloseFrame() }?.code == 1002)
            try await bystander.expectNothingButPong()
        }
    }
}
