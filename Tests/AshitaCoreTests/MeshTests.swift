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
            case .verify(let address, _): "verify \(address)"
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
        // Every new client's nodeList copies each peer's JSON, written once with the peer.
        #expect(mesh.peerAnnouncements.allSatisfy { $0.written != nil })
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

/// Limits and verification in the pure rules.
@Suite struct MeshLimitTests {
    static let token = String(repeating: "ab", count: 32)
    var clock = Timestamp(milliseconds: 1_000)

    private func addr(_ s: String) -> NodeAddress { try! NodeAddress(parsing: s) }

    private func mesh(verify: Bool = true, _ change: (inout MeshConfiguration) -> Void = { _ in }) -> Mesh {
        var configuration = MeshTests.configuration(verify: verify)
        change(&configuration)
        return Mesh(configuration: configuration, boot: "b")
    }

    private func auth(_ home: String) -> InboundFrame { .text(Array(#"{"type":"auth","node":"\#(home)"}"#.utf8)) }

    @Test func aHomeWaitsForVerificationBeforeAnyoneHearsOfIt() {
        var mesh = mesh()
        _ = mesh.connect(1, remote: "r", at: clock)
        _ = mesh.connect(2, remote: "r", at: clock)
        _ = mesh.receive(1, .text(Array(#"{"type":"auth"}"#.utf8)), at: clock)
        let effects = mesh.receive(2, auth("127.0.0.1:9000"), at: clock)
        #expect(effects.contains(.verify(addr("127.0.0.1:9000"), announcer: "r")))
        #expect(!effects.contains { if case .fanOut = $0 { true } else { false } })
        #expect(mesh.peers.isEmpty && mesh.allPeers.count == 1)

        let facts = PeerFacts(id: "peer", tls: true)
        let announced = mesh.verified(addr("127.0.0.1:9000"), facts, at: clock)
        #expect(announced.contains(.fanOut(.nodeDiscovered(PeerAnnouncement(addr("127.0.0.1:9000"), facts)), to: [1])))
        #expect(mesh.peers.map(\.address) == [addr("127.0.0.1:9000")])
        // A second report changes nothing.
        let again = mesh.verified(addr("127.0.0.1:9000"), facts, at: clock)
        #expect(again.isEmpty)
    }

    @Test func aFailedHomeIsToldToItsAnnouncerOnlyAndNeverLeaves() {
        var mesh = mesh()
        for id: ClientID in 1...2 { _ = mesh.connect(id, remote: "r", at: clock) }
        _ = mesh.receive(1, .text(Array(#"{"type":"auth"}"#.utf8)), at: clock)
        _ = mesh.receive(2, auth("127.0.0.1:9000"), at: clock)
        let failed = mesh.verificationFailed(addr("127.0.0.1:9000"), reason: "connection refused", at: clock)
        guard case .fanOut(.error(let violation), let to)? = failed.first else {
            Issue.record("no error for the announcer: \(failed)")
            return
        }
        #expect(violation.code == .unverified && to == [2])
        // What was found there is the operator's to see, not the announcer's or the public journal's.
        #expect(violation.message == "127.0.0.1:9000 could not be verified as an ashita node; other clients are not told of it")
        #expect(!failed.contains { if case .journal(let entry) = $0 { entry.content.message != nil } else { false } })
        #expect(mesh.allPeers.first?.verification == .failed("connection refused"))
        #expect(mesh.peers.isEmpty)
        // Its announcer leaving announces nothing: nobody heard of it.
        let left = mesh.disconnect(2, at: clock)
        #expect(!left.contains { if case .fanOut = $0 { true } else { false } })
        #expect(mesh.allPeers.isEmpty)
    }

    @Test func anotherSpellingOfThisNodeIsNeverItsPeer() {
        var mesh = mesh()
        for id: ClientID in 1...2 { _ = mesh.connect(id, remote: "r", at: clock) }
        _ = mesh.receive(1, .text(Array(#"{"type":"auth"}"#.utf8)), at: clock)
        _ = mesh.receive(2, auth("localhost:8000"), at: clock)
        // The check finds this node's own id behind the name.
        let effects = mesh.verified(addr("localhost:8000"), PeerFacts(id: "n1", tls: false), at: clock)
        #expect(effects.isEmpty)
        #expect(mesh.peers.isEmpty)
        #expect(mesh.allPeers.first?.verification == .isSelf)
        #expect(mesh.disconnect(2, at: clock).allSatisfy { if case .fanOut = $0 { false } else { true } })
    }

    @Test func aConnectionChangesItsHomeOnlySoOften() {
        var mesh = mesh(verify: false) { $0.maxAnnouncementsPerClient = 2 }
        _ = mesh.connect(1, remote: "r", at: clock)
        var refused = false
        // Back and forth between two homes: every change is a fan-out to every client.
        for i in 0..<10 {
            let effects = mesh.receive(1, auth(i % 2 == 0 ? "127.0.0.1:9000" : "127.0.0.1:9001"), at: clock.adding(milliseconds: Int64(i) * 1000))
            refused = refused || effects.contains { if case .send(.error(let v), _) = $0 { v.code == .rateLimited } else { false } }
        }
        #expect(refused)
    }

    @Test func whoConnectsFromWhereIsNotInThePublicJournal() {
        var mesh = mesh()
        let effects = mesh.connect(1, remote: "203.0.113.7", at: clock)
        #expect(!effects.contains { if case .journal(let entry) = $0 { entry.content.remote != nil } else { false } })
        #expect(mesh.clients[1]?.remote == "203.0.113.7", "the operator's view keeps it")
    }

    @Test func controlFramesShareTheMessageRate() {
        var mesh = mesh { $0.messageRate = 1; $0.messageBurst = 2 }
        _ = mesh.connect(1, remote: "r", at: clock)
        #expect(mesh.receive(1, .control, at: clock).isEmpty)
        #expect(mesh.receive(1, .control, at: clock).isEmpty)
        // The bucket is empty: a text frame is refused, and so is the next control frame.
        let ping = InboundFrame.text(Array(#"{"type":"ping"}"#.utf8))
        #expect(mesh.receive(1, ping, at: clock).contains { if case .send(.error(let v), _) = $0 { v.code == .rateLimited } else { false } })
        var closed = false
        for _ in 0..<4 { closed = closed || mesh.receive(1, .control, at: clock).contains(.close(1, .policyViolation)) }
        #expect(closed)
    }

    @Test func theRateLimitAnswersThenCloses() {
        var mesh = mesh { $0.messageRate = 1; $0.messageBurst = 2 }
        _ = mesh.connect(1, remote: "r", at: clock)
        let ping = InboundFrame.text(Array(#"{"type":"ping"}"#.utf8))
        for _ in 0..<2 {
            let answer = mesh.receive(1, ping, at: clock)
            #expect(answer == [.send(.pong, to: 1)])
        }
        var closed = false
        for _ in 0..<5 {
            let effects = mesh.receive(1, ping, at: clock)
            #expect(effects.contains { if case .send(.error(let v), _) = $0 { v.code == .rateLimited } else { false } })
            closed = closed || effects.contains(.close(1, .policyViolation))
        }
        #expect(closed)
        // A second later the bucket has refilled for a well-behaved client.
        var other = self.mesh { $0.messageRate = 1; $0.messageBurst = 1 }
        _ = other.connect(2, remote: "r", at: clock)
        let first = other.receive(2, ping, at: clock)
        let second = other.receive(2, ping, at: clock.adding(milliseconds: 1000))
        #expect(first == [.send(.pong, to: 2)] && second == [.send(.pong, to: 2)])
    }

    @Test func theClientLimitAndTheAuthDeadline() {
        var mesh = mesh { $0.maxClients = 1 }
        _ = mesh.connect(1, remote: "r", at: clock)
        let refused = mesh.connect(2, remote: "r", at: clock)
        #expect(refused == [.close(2, .full)])
        #expect(mesh.authDeadlinePassed(1) == [.close(1, .authTimeout)])
        _ = mesh.receive(1, .text(Array(#"{"type":"auth"}"#.utf8)), at: clock)
        #expect(mesh.authDeadlinePassed(1).isEmpty)
    }
}

@Suite struct SmallPartsTests {
    @Test func base32AsRFC4648Says() {
        // RFC 4648 section 10, lower case, no padding.
        for (input, output) in [("", ""), ("f", "my"), ("fo", "mzxq"), ("foo", "mzxw6"), ("foob", "mzxw6yq"), ("fooba", "mzxw6ytb"), ("foobar", "mzxw6ytboi")] {
            #expect(Base32.encode(Array(input.utf8)) == output)
        }
    }

    @Test func tokenBucketRefillsAtItsRate() {
        var bucket = TokenBucket(rate: 10, burst: 2, at: Timestamp(milliseconds: 0))
        // A long pause refills to the burst, no more.
        let taken = [0, 0, 50, 100, 10_000, 10_000, 10_000].map { bucket.take(at: Timestamp(milliseconds: $0)) }
        #expect(taken == [true, true, false, true, true, true, false])
    }

    @Test func endpointsTakeURLsAndBareAddresses() throws {
        #expect(try NodeEndpoint(parsing: "127.0.0.1:8000") == NodeEndpoint(NodeAddress(parsing: "127.0.0.1:8000"), tls: false))
        #expect(try NodeEndpoint(parsing: "https://node.example:8443/").httpBase == "https://node.example:8443")
        #expect(try NodeEndpoint(parsing: "WSS://[::1]:9000").webSocketBase == "wss://[::1]:9000")
        #expect(try NodeEndpoint(parsing: "http://127.0.0.1:80").tls == false)
        #expect(throws: AddressError.self) { try NodeEndpoint(parsing: "ftp://127.0.0.1:21") }
    }
}

@Suite struct OperatorTokenTests {
    @Test func matchesOnlyTheWholeToken() {
        let secret = String(repeating: "ab", count: 32)
        #expect(OperatorToken.matches(secret, secret))
        for candidate in ["", "ab", String(secret.dropLast()), secret + "a", "b" + secret.dropFirst(), String(secret.dropLast()) + "c", secret.uppercased()] {
            #expect(!OperatorToken.matches(candidate, secret), "\(candidate)")
        }
    }

    @Test func theFailureLimiterForgetsSoItsMemoryIsBounded() {
        var limiter = FailureLimiter(limit: 5, windowMilliseconds: 60_000, maxKeys: 100)
        let start = Timestamp(milliseconds: 0)
        // 20,000 addresses failing once each, all within one window.
        for i in 0..<20_000 { limiter.recordFailure("10.\(i / 65536).\(i / 256 % 256).\(i % 256)", at: start.adding(milliseconds: Int64(i))) }
        #expect(limiter.trackedKeys <= 100)
        // The newest are kept; a blocked address stays blocked while it is among them.
        for _ in 0..<5 { limiter.recordFailure("attacker", at: start.adding(milliseconds: 30_000)) }
        #expect(limiter.isBlocked("attacker", at: start.adding(milliseconds: 30_001)))
        #expect(!limiter.isBlocked("10.0.0.1", at: start.adding(milliseconds: 30_001)))
    }
}
