import AshitaCore
import Testing

/// How two neighbours bring their tables level: each lists what it holds (`have`), the other sends only what is
/// missing or newer, and a neighbour cannot make a node send its table nonstop.
@Suite struct MembershipTableTests {
    typealias Rules = MembershipRulesTests
    var clock = Timestamp(milliseconds: 1_000)

    mutating func later(_ milliseconds: Int64 = 20) -> Timestamp {
        clock = clock.adding(milliseconds: milliseconds)
        return clock
    }

    static func haves(_ effects: [MembershipEffect]) -> [(members: [MemberDigest], reply: Bool)] {
        effects.compactMap { if case .send(.have(let members, let reply), _) = $0 { (members, reply) } else { nil } }
    }

    /// Node 1, linked to node 2, holding nodes 3 and 4 alive, node 5 at a newer incarnation and node 6 left; the
    /// list it offered when the link opened is half a sync interval old.
    mutating func nodeWithATable() -> Membership {
        var a = Rules.node(1)
        _ = Rules.linked(&a)
        let peer = Rules.record(2).id
        let records = [Rules.record(3), Rules.record(4), Rules.record(5, incarnation: 105), Rules.record(6)]
        _ = a.receive(.gossip(hops: 1, records: records), from: peer, at: later())
        _ = a.receive(.gossip(hops: 1, records: [Rules.record(6, state: .left)]), from: peer, at: later())
        #expect(a.member(Rules.record(6).id)?.state == .left)
        _ = later(a.configuration.syncInterval.wholeMilliseconds / 2)
        return a
    }

    @Test mutating func aHaveIsAnsweredWithOnlyTheRecordsTheNeighbourLacksOrHoldsOlder() {
        var a = nodeWithATable()
        let peer = Rules.record(2).id
        // The neighbour holds 1, 2 and 3 as node 1 does, 5 at an older incarnation, and neither 4 nor 6.
        let held = [Rules.record(1), Rules.record(2), Rules.record(3), Rules.record(5)].map(MemberDigest.init)
        let effects = a.receive(.have(members: held, reply: true), from: peer, at: later())
        let sent = Rules.gossiped(effects)
        // 4 is missing there, 5 is older there; 6 has left and is unknown there, so it would be dropped unread.
        #expect(Set(sent.map(\.id)) == [Rules.record(4).id, Rules.record(5).id])
        #expect(sent.first { $0.id == Rules.record(5).id }?.incarnation == 105)
        // A `reply` asks for nothing back.
        #expect(Self.haves(effects).isEmpty)
    }

    @Test mutating func aNeighbourHoldingNewsGetsThisNodesListInReturnOnce() {
        var a = nodeWithATable()
        let peer = Rules.record(2).id
        // The neighbour holds a member node 1 does not know: node 1 lists its own, marked as a reply.
        let held = [Rules.record(1), Rules.record(2), Rules.record(7)].map(MemberDigest.init)
        let effects = a.receive(.have(members: held, reply: false), from: peer, at: later())
        let answers = Self.haves(effects)
        #expect(answers.count == 1)
        #expect(answers.first?.reply == true)
        // Node 1's state of each member the neighbour listed and node 1 holds: the neighbour sends the rest.
        #expect(answers.first?.members == [Rules.record(1), Rules.record(2)].map { MemberDigest(a.member($0.id)!) })
        // Nothing new there: no list back.
        let same = a.members.map { MemberDigest($0.record) }
        #expect(Self.haves(a.receive(.have(members: same, reply: false), from: peer, at: later(5_000))).isEmpty)
        // Nor for a member node 1 does not know that has left (it would drop the record unread), nor for a claim
        // about a member at an incarnation other than the one it holds.
        let gone = [MemberDigest(id: Rules.record(8).id, incarnation: 100, state: .left),
            MemberDigest(id: Rules.record(3).id, incarnation: 101, state: .suspect)]
        let others = same.filter { $0.id != Rules.record(3).id }
        #expect(Self.haves(a.receive(.have(members: others + gone, reply: false), from: peer, at: later(5_000))).isEmpty)
        // But a claim about node 1 itself is asked for: node 1 refutes it.
        let aboutMe = MemberDigest(id: a.id, incarnation: a.ownRecord.incarnation, state: .suspect)
        let asked = Self.haves(a.receive(.have(members: [aboutMe], reply: false), from: peer, at: later(5_000)))
        #expect(asked.first?.members == [MemberDigest(a.ownRecord)])
    }

    @Test mutating func aRecordThatWouldNotReplaceTheNeighboursIsNotSent() {
        var a = nodeWithATable()
        let peer = Rules.record(2).id
        // Node 1 holds node 3 suspect at incarnation 101; the neighbour holds it alive at 100. A claim names the
        // incarnation the mesh knows, so the neighbour would drop this one: it is not sent, answer after answer.
        _ = a.receive(.gossip(hops: 1, records: [Rules.record(3, incarnation: 101)]), from: peer, at: later())
        _ = a.receive(.gossip(hops: 1, records: [Rules.claim(Rules.record(3, incarnation: 101), .suspect, by: 2)]), from: peer, at: later())
        #expect(a.member(Rules.record(3).id)?.state == .suspect)
        let held = a.members.map { MemberDigest($0.record) }.map { $0.id == Rules.record(3).id ? MemberDigest(Rules.record(3)) : $0 }
        let sent = Rules.gossiped(a.receive(.have(members: held, reply: true), from: peer, at: later(5_000)))
        #expect(sent.isEmpty)
    }

    @Test mutating func aNeighbourCannotMakeANodeSendItsTableNonstop() {
        var a = nodeWithATable()
        let peer = Rules.record(2).id
        var answered = 0
        for _ in 0..<20 {
            answered += Rules.gossiped(a.receive(.have(members: [], reply: false), from: peer, at: later(10))).isEmpty ? 0 : 1
        }
        #expect(answered == 1)
        #expect(a.counters.rateLimited == 19)
        // Half a sync interval later, one more; two in a window where node 1 offered its own list (the neighbour's,
        // then the neighbour's reply to node 1's).
        _ = later(a.configuration.syncInterval.wholeMilliseconds / 2)
        _ = a.receive(.summary(count: 1, digest: 42, reply: false), from: peer, at: later(10))
        answered = 0
        for _ in 0..<5 {
            answered += Rules.gossiped(a.receive(.have(members: [], reply: true), from: peer, at: later(10))).isEmpty ? 0 : 1
        }
        #expect(answered == 2)
    }

    @Test mutating func summariesThatDifferOfferTheListAtMostOncePerHalfSyncInterval() {
        var a = Rules.node(1)
        _ = Rules.linked(&a)
        let peer = Rules.record(2).id
        // The link's first list went when it opened (node 1 had no other link); a second may go a little later.
        _ = later(a.configuration.syncInterval.wholeMilliseconds / 2)
        var lists = 0
        for _ in 0..<20 {
            lists += Self.haves(a.receive(.summary(count: 1, digest: 42, reply: false), from: peer, at: later(10))).count
        }
        #expect(lists == 1)
        // The same view: nothing to send.
        let (count, digest) = a.summary
        #expect(a.receive(.summary(count: count, digest: digest, reply: false), from: peer, at: later(5_000)).isEmpty)
    }

    @Test mutating func aTableTooBigToListGoesWhole() {
        var a = Rules.node(1) { $0.maxMembers = LinkMessage.maxHaveEntries + 30 }
        _ = Rules.linked(&a)
        let peer = Rules.record(2).id
        let records = (10..<UInt64(LinkMessage.maxHaveEntries + 20)).map { Rules.record($0, address: "10.1.\($0 / 250).\($0 % 250):8000") }
        for batch in stride(from: 0, to: records.count, by: LinkMessage.maxRecords) {
            _ = a.receive(.gossip(hops: 1, records: Array(records[batch..<min(records.count, batch + LinkMessage.maxRecords)])),
                from: peer, at: later(100))
        }
        #expect(a.members.count > LinkMessage.maxHaveEntries)
        let effects = a.receive(.summary(count: 1, digest: 42, reply: false), from: peer, at: later(5_000))
        #expect(Self.haves(effects).isEmpty)
        #expect(Rules.gossiped(effects).count == a.members.count)
        // Its list in reply names only what the neighbour listed: never more than a `have` may carry.
        let news = [MemberDigest(a.ownRecord), MemberDigest(Rules.record(7))]
        let reply = Self.haves(a.receive(.have(members: news, reply: false), from: peer, at: later(10)))
        #expect(reply.first?.members == [MemberDigest(a.ownRecord)])
    }
}
