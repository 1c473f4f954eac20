import Testing

@testable import AshitaCore

/// The operator's bans: a banned address cannot connect, a banned home cannot be announced, a ban disconnects
/// whom it covers, every ban ends, and the list is bounded.
@Suite struct BanTests {
    var mesh = Mesh(
        configuration: MeshConfiguration(
            address: try! NodeAddress(parsing: "127.0.0.1:8000"), id: "n1", version: "test",
            operatorToken: String(repeating: "ab", count: 32)),
        boot: "b")
    var clock = Timestamp(milliseconds: 1_000_000)

    private mutating func auth(_ id: ClientID, _ home: String?) -> [MeshEffect] {
        let node = home.map { #","node":"\#($0)""# } ?? ""
        return mesh.receive(id, .text(Array(#"{"type":"auth"\#(node)}"#.utf8)), at: clock)
    }

    private func closes(_ effects: [MeshEffect]) -> [ClientID: CloseReason] {
        Dictionary(uniqueKeysWithValues: effects.compactMap { if case .close(let id, let reason) = $0 { (id, reason) } else { nil } })
    }

    @Test mutating func aBannedHomeIsRefusedAndItsClientsDisconnectedUntilTheBanEnds() {
        for id: ClientID in 1...3 { _ = mesh.connect(id, remote: "10.0.0.\(id)", at: clock) }
        _ = auth(1, "10.9.9.9:9000")
        _ = auth(2, "10.9.9.9:9000")
        _ = auth(3, nil)
        let (result, effects) = mesh.ban(.home, "10.9.9.9:9000", until: clock.adding(milliseconds: 60_000), at: clock)
        #expect(result == .added)
        #expect(closes(effects) == [1: .banned, 2: .banned], "the observer stays")

        _ = mesh.connect(4, remote: "10.0.0.4", at: clock)
        let refused = auth(4, "10.9.9.9:9000")
        #expect(refused.contains(.send(.error(ProtocolViolation(.banned, "10.9.9.9:9000 is banned on this node")), to: 4)))
        #expect(closes(refused) == [4: .banned])

        // Once the minute is over, the home may be announced again.
        clock = clock.adding(milliseconds: 60_000)
        _ = mesh.connect(5, remote: "10.0.0.5", at: clock)
        #expect(closes(auth(5, "10.9.9.9:9000")).isEmpty)
        #expect(mesh.bans.list(at: clock).isEmpty)
    }

    @Test mutating func aBannedAddressCannotConnectAndIPv6IsBannedByItsNetwork() {
        _ = mesh.connect(1, remote: "2001:db8::1", at: clock)
        _ = mesh.connect(2, remote: "10.0.0.2", at: clock)
        let target = try! #require(BanList.normalized(.address, "2001:db8::77"))
        #expect(target == "2001:db8::/64")
        let (_, effects) = mesh.ban(.address, target, until: clock.adding(milliseconds: 1_000), at: clock)
        #expect(closes(effects) == [1: .banned])
        let sameNetwork = mesh.connect(3, remote: "2001:db8::2", at: clock)
        #expect(closes(sameNetwork) == [3: .banned])
        let otherNetwork = mesh.connect(4, remote: "2001:db8:0:1::2", at: clock)
        #expect(closes(otherNetwork).isEmpty, "another /64")
        let lifted = mesh.unban(.address, target, at: clock)
        #expect(lifted)
        let again = mesh.unban(.address, target, at: clock)
        #expect(!again, "nothing left to lift")
        let after = mesh.connect(5, remote: "2001:db8::2", at: clock)
        #expect(closes(after).isEmpty)
    }

    @Test mutating func theListIsBoundedAndAFileOfOtherThingsIsRefused() {
        var list = BanList()
        let end = clock.adding(milliseconds: 1_000)
        for i in 0..<BanList.capacity {
            #expect(list.add(.address, "10.0.\(i / 256).\(i % 256)", until: end, at: clock) == .added)
        }
        #expect(list.add(.address, "10.9.0.0", until: end, at: clock) == .full)
        #expect(list.add(.address, "10.0.0.0", until: end.adding(milliseconds: 5), at: clock) == .added, "an existing ban may change")
        // Once they end, there is room again.
        #expect(list.add(.address, "10.9.0.0", until: end.adding(milliseconds: 2_000), at: end) == .added)

        let kept = BanList.Ban(kind: .home, target: "example.com:9000", until: end.iso8601)
        let over = BanList.Ban(kind: .home, target: "example.org:9000", until: clock.iso8601)
        #expect(BanList(bans: [kept, over], at: clock)?.list(at: clock) == [kept], "a ban already over is dropped")
        #expect(BanList(bans: [BanList.Ban(kind: .home, target: "not an address", until: end.iso8601)], at: clock) == nil)
        #expect(BanList(bans: [BanList.Ban(kind: .address, target: "10.0.0.1", until: "soon")], at: clock) == nil)
        let tooMany = (0...BanList.capacity).map { BanList.Ban(kind: .address, target: "10.1.\($0 / 256).\($0 % 256)", until: end.iso8601) }
        #expect(BanList(bans: tooMany, at: clock) == nil)
    }
}
