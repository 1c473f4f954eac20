import AshitaClient
import Testing

extension WebSocketPeer {
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
