import AshitaTestSupport
import AshitaClient
import Foundation
import AshitaNode
import NIOCore
import NIOWebSocket
import Testing

/// Every input that crashed or poisoned the original node. For each: the sender gets an `error` (or a close),
/// the node stays up, a bystander receives nothing, and a newcomer is still announced.
@Suite struct HostileInputTests {
    static let badFrames: [(String, String)] = [
        ("not json", "bad-json"), ("null", "bad-json"), ("[]", "bad-json"), ("\"auth\"", "bad-json"), ("{", "bad-json"),
        ("{}", "bad-type"), (#"{"node":"127.0.0.1:1"}"#, "bad-type"), (#"{"type":"constructor"}"#, "bad-type"),
        (#"{"type":"__proto__","node":"127.0.0.1:2"}"#, "bad-type"), (#"{"type":"hasOwnProperty"}"#, "bad-type"),
        (#"{"type":"nodeDiscovered","content":{"nodeIp":"evil.example:80"}}"#, "bad-type"),
        (#"{"type":"auth","node":{"toString":1}}"#, "bad-node"), (#"{"type":"auth","node":"../../x"}"#, "bad-node"),
        (#"{"type":"auth","node":"<script>alert(1)</script>"}"#, "bad-node"),
        (#"{"type":"auth","node":"127.0.0.1:70000"}"#, "bad-node"),
        (#"{"type":"auth","node":"aaaa…(300 bytes):80"}"#.replacingOccurrences(of: "aaaa…(300 bytes)", with: String(repeating: "a", count: 300)), "bad-node"),
    ]

    @Test(arguments: badFrames)
    func aBadFrameIsAnsweredAndGoesNowhereElse(_ frame: String, _ code: String) async throws {
        try await withNode { node in
            let bystander = try await WebSocketPeer.joined(node, home: nil)
            let attacker = try await WebSocketPeer.to(node)
            try await attacker.send(frame)
            let answer = try await attacker.expect("error")
            #expect(answer.content.code == code)
            #expect(answer.content.message?.isEmpty == false)
            try await expectNodeUnharmed(node, bystander: bystander)
            // The attacker's socket still works for proper messages.
            try await attacker.auth("127.0.0.1:4242")
            try await attacker.expect("nodeConnected")
            try await bystander.expectFrame(discoveredFrame("127.0.0.1:4242"))
        }
    }

    @Test func invalidUTF8IsAnsweredNotRelayed() async throws {
        try await withNode { node in
            let bystander = try await WebSocketPeer.joined(node, home: nil)
            let attacker = try await WebSocketPeer.to(node)
            try await attacker.send(WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(bytes: [0x7B, 0xC3, 0x28, 0xFF, 0x7D])))
            #expect(try await attacker.expect("error").content.code == "bad-json")
            try await expectNodeUnharmed(node, bystander: bystander)
        }
    }

    @Test func binaryFramesAreRefusedWith1003() async throws {
        try await withNode { node in
            let bystander = try await WebSocketPeer.joined(node, home: nil)
            let attacker = try await WebSocketPeer.to(node)
            try await attacker.send(WebSocketFrame(fin: true, opcode: .binary, data: ByteBuffer(bytes: [1, 2, 3])))
            #expect(try await attacker.expect("error").content.code == "binary-frame")
            try await attacker.expectClose(.unsupportedData)
            try await expectNodeUnharmed(node, bystander: bystander)
        }
    }

    @Test(arguments: [70_000, 5_000_000])
    func oversizedFramesCloseWith1009(_ size: Int) async throws {
        try await withNode { node in
            let bystander = try await WebSocketPeer.joined(node, home: nil)
            let attacker = try await WebSocketPeer.to(node)
            let huge = #"{"type":"auth","node":""# + String(repeating: "x", count: size) + #""}"#
            try? await attacker.send(huge)
            #expect(try await attacker.expect("error").content.code == "too-big")
            try await attacker.expectClose(.tooBig)
            try await expectNodeUnharmed(node, bystander: bystander)
        }
    }

    @Test func fragmentsCannotSmuggleAnOversizedMessage() async throws {
        try await withNode { node in
            let bystander = try await WebSocketPeer.joined(node, home: nil)
            let attacker = try await WebSocketPeer.to(node)
            let piece = ByteBuffer(string: String(repeating: "x", count: 40_000))
            try await attacker.send(WebSocketFrame(fin: false, opcode: .text, data: piece))
            try? await attacker.send(WebSocketFrame(fin: false, opcode: .continuation, data: piece))
            #expect(try await attacker.expect("error").content.code == "too-big")
            try await attacker.expectClose(.tooBig)
            try await expectNodeUnharmed(node, bystander: bystander)
        }
    }

    @Test func fragmentedMessagesWithinTheLimitAreReassembled() async throws {
        try await withNode { node in
            let peer = try await WebSocketPeer.to(node)
            try await peer.send(WebSocketFrame(fin: false, opcode: .text, data: ByteBuffer(string: #"{"type":"#)))
            try await peer.send(WebSocketFrame(fin: true, opcode: .continuation, data: ByteBuffer(string: #""ping"}"#)))
            try await peer.expect("pong")
        }
    }

    @Test func repeatedAbuseClosesWith1008AndOnlyThatSocket() async throws {
        try await withNode { node in
            let bystander = try await WebSocketPeer.joined(node, home: "127.0.0.1:5000")
            let attacker = try await WebSocketPeer.to(node)
            for _ in 1...5 {
                try await attacker.send("garbage")
                try await attacker.expect("error")
            }
            try await attacker.expectClose(.policyViolation)
            try await expectNodeUnharmed(node, bystander: bystander)
            #expect(try await peerNames(node) == ["127.0.0.1:5000", "127.0.0.1:7777"])
        }
    }

    @Test func aBadUpgradeRequestIsAnsweredNotLeftHanging() async throws {
        try await withNode { node in
            // Upgrade to a protocol the node does not speak: NIO would swallow the request; the node answers it.
            let h2c = try await CurlHTTPClient().get("\(node.url)/healthz", headers: ["Connection: Upgrade, HTTP2-Settings", "Upgrade: h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA"])
            #expect(h2c.status == 200)
            let wrongPath = try await CurlHTTPClient().get(
                "\(node.url)/elsewhere",
                headers: ["Connection: Upgrade", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="])
            #expect(wrongPath.status == 404)
            #expect(wrongPath.text.contains(#""code":"not-found""#))
        }
    }

    /// The node answers HTTP, the bystander got nothing from the attack, and a newcomer is still announced to it:
    /// its very next frame, read raw (a relayed `null` or `not json` would be caught too), is the newcomer's.
    private func expectNodeUnharmed(_ node: NodeServer, bystander: WebSocketPeer) async throws {
        #expect(try await CurlHTTPClient().get("\(node.url)/healthz").status == 200)
        let newcomer = try await WebSocketPeer.to(node)
        try await newcomer.auth("127.0.0.1:7777")
        try await bystander.expectFrame(discoveredFrame("127.0.0.1:7777"))
    }
}
