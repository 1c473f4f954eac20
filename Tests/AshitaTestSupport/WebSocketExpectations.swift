import AshitaClient
import Testing

extension WebSocketPeer {
    /// A WebSocket to a node on 127.0.0.1, for a test. The client's handshake deadline (5 s) is a guard against a
    /// hang here, so like every such guard it waits `hangGuardPatience` times as long: on two cores busy starting
    /// the suite's processes, connecting and upgrading on loopback has taken longer than 5 s.
    public static func local(port: Int, path: String = "/") async throws -> WebSocketPeer {
        try await connect(host: "127.0.0.1", port: port, path: path, timeout: .seconds(5 * hangGuardPatience))
    }

    /// The next event, which must be of `type`; records an issue when it is another, fails when the
    /// connection ends or nothing comes within `seconds`.
    @discardableResult
    public func expect(
        _ type: String, within seconds: Double = 10, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> ReceivedEvent {
        let event = try await AshitaTestSupport.within(seconds, "\(type) on \(target)") { await self.nextEvent() }
        let received = try #require(event, "connection to \(target) ended while waiting for \(type)", sourceLocation: sourceLocation)
        #expect(received.type == type, "expected \(type), got \(received)", sourceLocation: sourceLocation)
        return received
    }
}

extension WebSocketPeer {
    /// The next frame, whatever it is, which must be exactly `text` (byte for byte): for bystanders, which
    /// must receive nothing else — a frame the event decoder would skip (not JSON, `null`) included.
    public func expectFrame(
        _ text: String, within seconds: Double = 10, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let message = try await AshitaTestSupport.within(seconds, "a frame on \(target)") { await self.next() }
        #expect(message == .text(text), "expected \(text), got \(String(describing: message))", sourceLocation: sourceLocation)
    }

    /// Sends a `ping` and expects the very next frame to be the `pong`: the peer received nothing in between.
    public func expectNothingButPong(sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await send(#"{"type":"ping"}"#)
        try await expectFrame(#"{"content":{},"type":"pong"}"#, sourceLocation: sourceLocation)
    }
}

/// The frame a node sends for `nodeDiscovered` with checks off (no id), byte for byte.
public func discoveredFrame(_ address: String, id: String? = nil) -> String {
    #"{"content":{\#(id.map { #""id":"\#($0)","# } ?? "")"nodeIp":"\#(address)","tls":false},"type":"nodeDiscovered"}"#
}
