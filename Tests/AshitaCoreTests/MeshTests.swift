import Testing

@testable import AshitaCore

/// The protocol's rules, driven with frames and a hand-held clock.
@Suite struct MeshTests {
    static let token = String(repeating: "ab", count: 32)
    var mesh = Mesh(configuration: Self.configuration(verify: false), boot: "b")

    static func configuration(verify: Bool) -> MeshConfiguration {
        var configuration = MeshConfiguration(
            address: try! NodeAddress(parsing: "127.0.0.1:8000"), id: "n1", version: "test", operatorToken: token)
        configuration.verifyAnnouncements = verify
        return configuration
    }
    var clock = Timestamp(milliseconds: 1_000)

    private func addr(_ s: String) -> NodeAddress { try! NodeAddress(parsing: s) }

    private mutating func auth(_ id: ClientID, _ home: String?, token: String? = nil) -> [MeshEffect] {
        clock = clock.adding(milliseconds: 1)
        var content = ""
        if let token { content = #","content":{"token":"\#(token)"}"# }
        let node = home.map { #","node":"\#($0)""# } ?? ""
        return mesh.receive(id, .text(Array(#"{"type":"auth"\#(node)\#(content)}"#.utf8)), at: clock)
    }

    private func sent(_ effects: [MeshEffect]) -> [String] {
        effects.compactMap {
            switch $0 {
            case .send(let e, let to): "\(to):\(e.type)"
            case .fanOut(let e, let to): "\(to.sorted()):\(e.type)"
            case .close(let id, let reason): "\(id):close \(reason.code)"
            case .journal: nil
            case .verify(let address): "verify \(address)"
            }
        }
    }

    @Test mutating func announcesANewHomeToEveryOtherClientBeforeRegisteringIt() {
        _ = mesh.connect(1, remote: "10.0.0.1", at: clock)
        _ = mesh.connect(2, remote: "10.0.0.2", at: clock)
        #expect(sent(auth(1, "127.0.0.1:8000")) == ["1:nodeConnected", "1:nodeList"])
        let effects = auth(2, "127.0.0.1:9000")
        #expect(sent(effects) == ["[1]:nodeDiscovered", "2:nodeConnected", "2:nodeList"])
        #expect(effects.contains(.send(.nodeList([PeerAnnouncement(addr("127.0.0.1:9000"), .unverified)]), to: 2)))
        #expect(mesh.peers.map(\.address) == [addr("127.0.0.1:9000")])
        // A known home costs no announcement.
        _ = mesh.connect(3, remote: "10.0.0.3", at: clock)
        #expect(sent(auth(3, "127.0.0.1:9000")) == ["3:nodeConnected", "3:nodeList"])
    }

    @Test mutating func aPeerStaysWhileAnyOfItsClientsRemains() {
        for id: ClientID in 1...3 { _ = mesh.connect(id, remote: "r", at: clock) }
        _ = auth(1, nil)
        _ = auth(2, "10.1.1.1:9000")
        _ = auth(3, "10.1.1.1:9000")
        #expect(mesh.peers.first?.clients == [2, 3])
        #expect(sent(mesh.disconnect(2, at: clock)) == [])
        #expect(mesh.peers.count == 1)
        #expect(sent(mesh.disconnect(3, at: clock)) == ["[1]:nodeLeft"])
        #expect(mesh.peers.isEmpty)
    }

    @Test mutating func reAuthUnderAnotherHomeLeavesNoStaleEntry() {
        _ = mesh.connect(1, remote: "r", at: clock)
        _ = mesh.connect(2, remote: "r", at: clock)
        _ = auth(1, nil)
        _ = auth(2, "a.example:1")
        #expect(sent(auth(2, "b.example:2")) == ["[1]:nodeLeft", "[1]:nodeDiscovered", "2:nodeConnected", "2:nodeList"])
        #expect(mesh.peers.map(\.address) == [addr("b.example:2")])
        #expect(sent(auth(2, nil)) == ["[1]:nodeLeft", "2:nodeConnected", "2:nodeList"])
        #expect(mesh.peers.isEmpty)
    }

    @Test mutating func observersAndTheNodeItselfAreNeverAnnounced() {
        _ = mesh.connect(1, remote: "r", at: clock)
        _ = mesh.connect(2, remote: "r", at: clock)
        _ = auth(1, nil)
        #expect(sent(auth(2, nil)) == ["2:nodeConnected", "2:nodeList"])
        #expect(sent(auth(2, "127.0.0.1:8000")) == ["2:nodeConnected", "2:nodeList"])
        #expect(mesh.peers.isEmpty)
    }

    @Test mutating func unauthenticatedClientsHearNothing() {
        _ = mesh.connect(1, remote: "r", at: clock)
        _ = mesh.connect(2, remote: "r", at: clock)
        #expect(sent(auth(2, "x.example:1")) == ["2:nodeConnected", "2:nodeList"])
    }

    @Test mutating func badFramesAreAnsweredAndRepeatedAbuseCloses() {
        _ = mesh.connect(1, remote: "r", at: clock)
        _ = mesh.connect(2, remote: "r", at: clock)
        _ = auth(2, nil)
        for attempt in 1...5 {
            let effects = mesh.receive(1, .text(Array("nope".utf8)), at: clock)
            #expect(sent(effects).first == "1:error")
            #expect(sent(effects).contains("1:close 1008") == (attempt == 5))
            #expect(!sent(effects).contains { $0.hasPrefix("2:") || $0.hasPrefix("[") })
        }
        #expect(sent(mesh.receive(1, .binary, at: clock)) == ["1:error", "1:close 1003"])
        #expect(sent(mesh.rejectOversized(1, size: 70_000, limit: 65_536, at: clock)) == ["1:error", "1:close 1009"])
        #expect(sent(mesh.receive(2, .text(Array(#"{"type":"ping"}"#.utf8)), at: clock)) == ["2:pong"])
    }

    @Test mutating func operatorTokenGrantsOperatorAndWrongTokensAreRateLimited() {
        _ = mesh.connect(1, remote: "10.0.0.9", at: clock)
        #expect(sent(auth(1, nil, token: Self.token)) == ["1:nodeConnected", "1:nodeList", "1:nodeOperatorConnected"])
        #expect(mesh.operatorCount == 1)
        _ = mesh.connect(2, remote: "10.0.0.66", at: clock)
        for _ in 1...5 {
            let effects = auth(2, "evil.example:1", token: "guess")
            #expect(effects.contains(.send(.error(ProtocolViolation(.unauthorized, "operator token rejected")), to: 2)))
        }
        #expect(mesh.peers.isEmpty, "a rejected auth registers nothing")
        #expect(mesh.clients[2]?.isAuthenticated == false)
        guard case .send(.error(let violation), _)? = auth(2, nil, token: Self.token).first else {
            Issue.record("no answer")
            return
        }
        #expect(violation.code == .rateLimited, "even the right token waits out the window")
        clock = clock.adding(milliseconds: 60_001)
        #expect(sent(auth(2, nil, token: Self.token)).last == "2:nodeOperatorConnected")
        #expect(mesh.checkOperatorToken(Self.token, from: "x", at: clock) == .accepted)
    }

    @Test func tokenComparisonIsExact() {
        #expect(OperatorToken.matches(Self.token, Self.token))
        #expect(!OperatorToken.matches(String(Self.token.dropLast()), Self.token))
        #expect(!OperatorToken.matches(Self.token + "a", Self.token))
        #expect(!OperatorToken.matches("", Self.token))
        #expect(OperatorToken.isWellFormed(Self.token) && !OperatorToken.isWellFormed("AB"))
    }

    @Test func failureLimiterKeepsItsMemoryBounded() {
        var limiter = FailureLimiter(limit: 2, windowMilliseconds: 10, maxKeys: 100)
        for i in 0..<1_000 { limiter.recordFailure("ip\(i)", at: Timestamp(milliseconds: Int64(i))) }
        limiter.recordFailure("ip999", at: Timestamp(milliseconds: 999))
        #expect(limiter.isBlocked("ip999", at: Timestamp(milliseconds: 1_000)))
        #expect(!limiter.isBlocked("ip999", at: Timestamp(milliseconds: 1_010)))
    }
}
