import AshitaCore
import AshitaFuzzHarness
import Testing

/// The membership's rules one message at a time, and what they do with hostile input: forged, unknown, stale,
/// malformed, oversized, too many, too often.
@Suite struct MembershipRulesTests {
    static let address = try! NodeAddress(parsing: "10.0.0.1:8000")
    var clock = Timestamp(milliseconds: 1_000)

    static func node(_ seed: UInt64, port: Int = 8000, configure: (inout MembershipConfiguration) -> Void = { _ in }) -> Membership {
        var configuration = MembershipConfiguration()
        configure(&configuration)
        return Membership(
            configuration: configuration, address: try! NodeAddress(parsing: "10.0.0.\(seed):\(port)"),
            signing: SimulatedSigning(seed: seed), incarnation: 100, seed: seed, at: Timestamp(milliseconds: 1_000))
    }

    /// A record signed by the node with this seed (at 10.0.0.SEED:8000 unless said).
    static func record(_ seed: UInt64, incarnation: UInt64 = 100, state: MemberState = .alive, address: String? = nil) -> MemberRecord {
        let signing = SimulatedSigning(seed: seed)
        let id = signing.id(ofKey: signing.publicKey)
        var record = MemberRecord(
            id: id, key: signing.publicKey, address: try! NodeAddress(parsing: address ?? "10.0.0.\(seed):8000"),
            incarnation: incarnation, state: state, signer: id)
        record.signature = signing.sign(record.signedBytes)
        return record
    }

    /// A record as a link's greeting proves it (checked by a node that is none of the tests' nodes).
    static func proven(_ record: MemberRecord) -> ProvenRecord {
        try! ProvenRecord(checking: record, signing: SimulatedSigning(seed: 999))
    }

    /// A claim about `subject`, signed by the node with seed `claimer`.
    static func claim(_ subject: MemberRecord, _ state: MemberState, by claimer: UInt64, evidence: SuspicionEvidence? = .silent) -> MemberRecord {
        let signing = SimulatedSigning(seed: claimer)
        var claim = subject
        claim.state = state
        claim.evidence = state == .suspect ? evidence : nil
        claim.signer = signing.id(ofKey: signing.publicKey)
        claim.signature = signing.sign(claim.signedBytes)
        return claim
    }

    /// `a` with a link to the node of seed 2 (whose record it has).
    static func linked(_ a: inout Membership, to seed: UInt64 = 2, link: LinkID = 1) -> [MembershipEffect] {
        a.linkUp(link, record: proven(record(seed)), dialedByUs: false, peerIsolated: false, at: Timestamp(milliseconds: 1_000))
    }

    static func errors(_ effects: [MembershipEffect]) -> [String] {
        effects.compactMap { if case .send(.error(let code, _), _) = $0 { code } else { nil } }
    }

    static func gossiped(_ effects: [MembershipEffect]) -> [MemberRecord] {
        effects.flatMap { effect -> [MemberRecord] in
            if case .send(.gossip(_, let records), _) = effect { records } else { [] }
        }
    }

    mutating func later(_ milliseconds: Int64 = 20) -> Timestamp {
        clock = clock.adding(milliseconds: milliseconds)
        return clock
    }

    @Test mutating func aForgedRecordIsDroppedCountedAnsweredAndNotPassedOn() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        var forged = Self.record(3)
        forged.signature = Self.record(4).signature
        let effects = a.receive(.gossip(hops: 1, records: [forged]), from: Self.record(2).id, at: later())
        #expect(Self.errors(effects) == ["bad-signature"])
        #expect(a.counters.badSignature == 1)
        #expect(a.member(forged.id) == nil)
        #expect(Self.gossiped(a.tick(at: later())).isEmpty)
    }

    /// Gossip goes on at the next tick to the neighbours not known to hold it: not back to any that sent the same
    /// record meanwhile, and not a member's own record to that member; each neighbour gets one message.
    @Test mutating func gossipIsNotSentBackToNeighboursThatSentItOrToItsSubject() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        for seed: UInt64 in [3, 4] {
            _ = a.linkUp(LinkID(seed), record: Self.proven(Self.record(seed)), dialedByUs: false, peerIsolated: false, at: later())
        }
        let (two, three, four) = (Self.record(2).id, Self.record(3).id, Self.record(4).id)
        let newcomer = Self.record(5)
        let refuted = Self.record(4, incarnation: 101)
        _ = a.tick(at: later())
        _ = a.receive(.gossip(hops: 1, records: [newcomer, refuted]), from: two, at: later())
        _ = a.receive(.gossip(hops: 2, records: [newcomer]), from: three, at: later(1))
        let sent = a.tick(at: later(1)).compactMap { effect -> (records: [String], to: [String])? in
            if case .send(.gossip(_, let records), let to) = effect { (records.map(\.id), to) } else { nil }
        }
        // 4 holds the newcomer from nobody here, and its own new record itself; 3 sent the newcomer, not 4's record.
        #expect(sent.count == 2)
        #expect(sent.contains { $0.to == [four] && $0.records == [newcomer.id] })
        #expect(sent.contains { $0.to == [three] && $0.records == [refuted.id] })
        #expect(!sent.contains { $0.to.contains(two) })
    }

    @Test mutating func aRecordSignedByTheWrongMemberIsForged() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        // Node 2 says node 3 is alive, signing it itself: only node 3 may.
        var record = Self.record(3)
        record.signer = Self.record(2).id
        record.signature = SimulatedSigning(seed: 2).sign(record.signedBytes)
        _ = a.receive(.gossip(hops: 1, records: [record]), from: Self.record(2).id, at: later())
        #expect(a.member(record.id) == nil)
        #expect(a.counters.badSignature == 1)
    }

    @Test mutating func claimsByStrangersOrAboutOtherIncarnationsCountForNothing() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        let peer = Self.record(2).id
        _ = a.receive(.gossip(hops: 1, records: [Self.record(3)]), from: peer, at: later())
        // Signed by node 9, which nobody knows.
        _ = a.receive(.gossip(hops: 1, records: [Self.claim(Self.record(3), .suspect, by: 9)]), from: peer, at: later())
        #expect(a.member(Self.record(3).id)?.state == .alive)
        #expect(a.counters.unknown == 1)
        // About incarnation 99 or 101 while the mesh knows 100.
        for incarnation: UInt64 in [99, 101] {
            _ = a.receive(
                .gossip(hops: 1, records: [Self.claim(Self.record(3, incarnation: incarnation), .suspect, by: 2)]), from: peer, at: later())
        }
        #expect(a.member(Self.record(3).id)?.state == .alive)
        #expect(a.counters.stale == 2)
    }

    @Test mutating func aFailureClaimAboutALiveMemberOnlyStartsASuspicionWhichARefutationEnds() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        let peer = Self.record(2).id
        let subject = Self.record(3)
        _ = a.receive(.gossip(hops: 1, records: [subject]), from: peer, at: later())
        let effects = a.receive(.gossip(hops: 1, records: [Self.claim(subject, .failed, by: 2)]), from: peer, at: later())
        #expect(a.member(subject.id)?.state == .alive)
        #expect(!effects.contains { if case .memberChanged = $0 { true } else { false } })
        // The member refutes before the suspicion ends: it stays alive, at its new incarnation.
        _ = a.receive(.gossip(hops: 1, records: [Self.record(3, incarnation: 101)]), from: peer, at: later())
        _ = a.tick(at: later(20_000))
        #expect(a.member(subject.id)?.state == .alive)
        #expect(a.member(subject.id)?.incarnation == 101)
    }

    @Test mutating func anUnrefutedSuspicionEndsInFailureSignedByThisNode() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        let peer = Self.record(2).id
        let subject = Self.record(3)
        _ = a.receive(.gossip(hops: 1, records: [subject, Self.claim(subject, .suspect, by: 2)]), from: peer, at: later())
        #expect(a.member(subject.id)?.state == .suspect)
        // One accuser: the longest suspicion.
        _ = a.tick(at: later(a.configuration.suspicionMax.wholeMilliseconds - 100))
        #expect(a.member(subject.id)?.state == .suspect)
        let effects = a.tick(at: later(200))
        #expect(a.member(subject.id)?.state == .failed)
        #expect(a.member(subject.id)?.signer == a.id)
        #expect(effects.contains(.memberChanged(a.member(subject.id)!, previous: .suspect)))
    }

    /// A dial whose connection broke before the link was up (the member may have died as it answered) is made
    /// again at once, and the refusal that follows is what fails the member soon.
    @Test mutating func aDialThatBrokeIsMadeAgainAtOnce() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        let subject = Self.record(3)
        _ = a.receive(.gossip(hops: 1, records: [subject]), from: Self.record(2).id, at: later())
        #expect(a.join([subject.address], at: later()).contains(.dial(subject.address)))
        #expect(a.dialFailed(subject.address, refused: false, broke: true, at: later()).contains(.dial(subject.address)))
        #expect(a.member(subject.id)?.state == .suspect)
        _ = a.dialFailed(subject.address, refused: true, at: later())
        _ = a.tick(at: later(a.configuration.refusedSuspicion.wholeMilliseconds))
        #expect(a.member(subject.id)?.state == .failed)
    }

    /// A full node makes room for a member it holds failed, once per retry interval: the halves of a mesh split
    /// long enough to fill their links among themselves still link again when it heals.
    @Test mutating func aFullNodeMakesRoomForAMemberItHoldsFailedOncePerRetryInterval() {
        var a = Self.node(1) { $0.maxLinks = 2 }
        _ = Self.linked(&a)
        _ = a.linkUp(3, record: Self.proven(Self.record(3)), dialedByUs: false, peerIsolated: false, at: later())
        let peer = Self.record(2).id
        let (first, second) = (Self.record(4), Self.record(5))
        _ = a.receive(
            .gossip(hops: 1, records: [first, second, Self.claim(first, .suspect, by: 2), Self.claim(second, .suspect, by: 2)]),
            from: peer, at: later())
        _ = a.tick(at: later(a.configuration.suspicionMax.wholeMilliseconds))
        #expect(a.member(first.id)?.state == .failed && a.member(second.id)?.state == .failed)
        func closes(_ effects: [MembershipEffect]) -> [LinkCloseReason] {
            effects.compactMap { if case .closeLink(_, let reason) = $0 { reason } else { nil } }
        }
        #expect(closes(a.linkUp(4, record: Self.proven(first), dialedByUs: true, peerIsolated: false, at: later())) == [.shed])
        #expect(closes(a.linkUp(5, record: Self.proven(second), dialedByUs: true, peerIsolated: false, at: later())) == [.full])
        _ = a.linkDown(5, peer: second.id, lost: false, at: later())
        _ = later(a.configuration.retryInterval.wholeMilliseconds)
        #expect(closes(a.linkUp(6, record: Self.proven(second), dialedByUs: false, peerIsolated: false, at: later())) == [.shed])
    }

    /// A link lost without a close makes the node dial the member at once, and a refused dial is strong evidence (a
    /// short suspicion) — also when another claim made the member a `silent` suspect first, as a dial that broke
    /// while the member died does.
    @Test mutating func aLostLinkIsCheckedByADialWhoseRefusalShortensASuspicionHeldAlready() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        let (peer, subject) = (Self.record(2), Self.record(3))
        _ = a.linkUp(2, record: Self.proven(subject), dialedByUs: false, peerIsolated: false, at: later())
        _ = a.receive(.gossip(hops: 1, records: [Self.claim(subject, .suspect, by: 2)]), from: peer.id, at: later())
        #expect(a.member(subject.id)?.state == .suspect)
        #expect(a.linkDown(2, peer: subject.id, lost: true, at: later()).contains(.dial(subject.address)))
        _ = a.dialFailed(subject.address, refused: true, at: later())
        _ = a.tick(at: later(a.configuration.refusedSuspicion.wholeMilliseconds))
        #expect(a.member(subject.id)?.state == .failed)
    }

    /// A stalled member's check ends as soon as every neighbour asked answered `nack`, before the probe timeout.
    @Test mutating func aStalledMembersCheckEndsWhenEveryHelperSaidNack() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        for seed: UInt64 in [3, 4] {
            _ = a.linkUp(LinkID(seed), record: Self.proven(Self.record(seed)), dialedByUs: false, peerIsolated: false, at: later())
        }
        let target = Self.record(2).id
        let asked = a.linkStalled(target, at: later(a.configuration.probeTimeout.wholeMilliseconds))
        let requests = asked.compactMap { effect -> (UInt64, [String])? in
            if case .send(.pingRequest(let seq, target), let to) = effect { (seq, to) } else { nil }
        }
        #expect(requests.count == 1 && requests[0].1.count == 2)
        for helper in requests.first?.1 ?? [] { _ = a.receive(.nack(seq: requests[0].0), from: helper, at: later(1)) }
        #expect(a.nextWake(at: clock) < clock.adding(a.configuration.probeTimeout))
        let claims = Self.gossiped(a.tick(at: later(1)))
        #expect(claims.contains { $0.id == target && $0.state == .suspect && $0.evidence == .unreachable })
    }

    /// A node whose own link to a member stalled answers another's `pingReq` for it with `nack` at once: a ping
    /// could not pass either.
    @Test mutating func aRelayWhoseOwnLinkStalledSaysNackAtOnce() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        _ = a.linkUp(3, record: Self.proven(Self.record(3)), dialedByUs: false, peerIsolated: false, at: later())
        let (target, asker) = (Self.record(2).id, Self.record(3).id)
        let asked = a.receive(.pingRequest(seq: 7, target: target), from: asker, at: later())
        #expect(asked.contains { if case .send(.ping, [target]) = $0 { true } else { false } })
        // The ping being relayed is given up: the asker hears `nack` now, not when the relay's time runs out.
        #expect(a.linkStalled(target, at: later(a.configuration.probeTimeout.wholeMilliseconds)).contains(.send(.nack(seq: 7), to: [asker])))
        #expect(a.receive(.pingRequest(seq: 8, target: target), from: asker, at: later()) == [.send(.nack(seq: 8), to: [asker])])
    }

    /// A relay whose own transport to the target resent data once (doubtful: not yet a stall) gives up the ping it
    /// relays and answers `nack` at once for half a probe timeout, or until the target is heard again; a doubt
    /// counts only after a probe timeout of silence, as a stall does.
    @Test mutating func aRelayWhoseOwnLinkIsDoubtfulSaysNackForAWhile() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        _ = a.linkUp(3, record: Self.proven(Self.record(3)), dialedByUs: false, peerIsolated: false, at: later())
        let (target, asker) = (Self.record(2).id, Self.record(3).id)
        func relayed(_ effects: [MembershipEffect]) -> Bool { effects.contains { if case .send(.ping, [target]) = $0 { true } else { false } } }
        _ = a.receive(.ping(seq: 1), from: target, at: later())
        #expect(a.linkDoubtful(target, at: later()).isEmpty)
        #expect(relayed(a.receive(.pingRequest(seq: 7, target: target), from: asker, at: later())))
        #expect(a.linkDoubtful(target, at: later(a.configuration.probeTimeout.wholeMilliseconds)) == [.send(.nack(seq: 7), to: [asker])])
        #expect(a.receive(.pingRequest(seq: 8, target: target), from: asker, at: later()) == [.send(.nack(seq: 8), to: [asker])])
        // Half a probe timeout after the last doubt, pings go through the link again.
        #expect(relayed(a.receive(.pingRequest(seq: 9, target: target), from: asker, at: later(a.configuration.probeTimeout.wholeMilliseconds / 2))))
        // Heard from: the doubt is over at once.
        _ = a.linkDoubtful(target, at: later())
        _ = a.receive(.ping(seq: 2), from: target, at: later())
        #expect(relayed(a.receive(.pingRequest(seq: 10, target: target), from: asker, at: later())))
    }

    /// Neighbours that each found a member unreachable shorten its suspicion, from `unreachableSuspicion` with one
    /// claimer down to `refusedSuspicion` with `expectedConfirmations` more: a cut-off member's neighbours all find
    /// it at about one time, while one lossy path alone leaves the member time to refute.
    @Test mutating func confirmedUnreachableClaimsShortenTheSuspicion() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        let peer = Self.record(2).id
        let (lone, cut) = (Self.record(3), Self.record(4))
        let confirmations = UInt64(a.configuration.expectedConfirmations)
        // Claims count only from members this node knows.
        _ = a.receive(.gossip(hops: 1, records: [lone, cut] + (5...(5 + confirmations)).map { Self.record($0) }), from: peer, at: later())
        _ = a.receive(.gossip(hops: 1, records: [Self.claim(lone, .suspect, by: 5, evidence: .unreachable)]), from: peer, at: later(0))
        _ = a.receive(
            .gossip(hops: 1, records: (5...(5 + confirmations)).map { Self.claim(cut, .suspect, by: $0, evidence: .unreachable) }),
            from: peer, at: later(0))
        #expect(a.member(cut.id)?.state == .suspect)
        _ = a.tick(at: later(a.configuration.refusedSuspicion.wholeMilliseconds))
        #expect(a.member(cut.id)?.state == .failed)
        #expect(a.member(lone.id)?.state == .suspect)
        _ = a.tick(at: later(a.configuration.unreachableSuspicion.wholeMilliseconds - a.configuration.refusedSuspicion.wholeMilliseconds))
        #expect(a.member(lone.id)?.state == .failed)
    }

    /// A stalled transport (TCP resent data still unacknowledged) counts only with silence on the link too, and only
    /// once neighbours could not reach the member either; then the suspicion is short, and a claimer who said
    /// `silent` before may say `unreachable` after.
    @Test mutating func aStalledLinkWithSilenceMakesAShortSuspicionAndSlownessNone() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        let peer = Self.record(2).id
        // Heard from just now: a stall alone says nothing.
        _ = a.receive(.ping(seq: 1), from: peer, at: later())
        #expect(a.linkStalled(peer, at: later()).isEmpty)
        _ = a.tick(at: later(a.configuration.probeTimeout.wholeMilliseconds + 20))
        #expect(a.member(peer)?.state == .alive)
        // A probe timeout of silence, then the stall: neighbours are asked at once (here there are none); when
        // nobody reached it within a probe timeout, suspect, with evidence `unreachable`, gossiped.
        _ = a.linkStalled(peer, at: later(a.configuration.probeTimeout.wholeMilliseconds))
        #expect(a.member(peer)?.state == .alive)
        let claims = Self.gossiped(a.tick(at: later(a.configuration.probeTimeout.wholeMilliseconds + 20)))
        #expect(a.member(peer)?.state == .suspect)
        #expect(claims.contains { $0.id == peer && $0.state == .suspect && $0.evidence == .unreachable })
        _ = a.tick(at: later(a.configuration.unreachableSuspicion.wholeMilliseconds))
        #expect(a.member(peer)?.state == .failed)

        // Another node's unanswered probe made it claim `silent` first: a stall then upgrades its claim.
        var b = Self.node(4)
        _ = Self.linked(&b, to: 2)
        for _ in 0..<500 where b.member(peer)?.state == .alive { _ = b.tick(at: later()) }
        #expect(b.member(peer)?.state == .suspect)
        #expect(b.member(peer)?.evidence == .silent)
        _ = b.linkStalled(peer, at: later())
        var upgraded: [MemberRecord] = []
        for _ in 0..<250 where !upgraded.contains(where: { $0.evidence == .unreachable }) { upgraded += Self.gossiped(b.tick(at: later())) }
        #expect(upgraded.contains { $0.id == peer && $0.evidence == .unreachable && $0.signer == b.id })
        _ = b.tick(at: later(b.configuration.unreachableSuspicion.wholeMilliseconds))
        #expect(b.member(peer)?.state == .failed)
    }

    @Test mutating func accusedNodesRefuteWithAHigherIncarnation() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        let accusation = Self.claim(a.ownRecord, .suspect, by: 2)
        _ = a.receive(.gossip(hops: 1, records: [accusation]), from: Self.record(2).id, at: later())
        #expect(a.ownRecord.incarnation == 101)
        #expect(a.ownRecord.state == .alive)
        #expect(a.localHealth == 1)
        #expect(Self.gossiped(a.tick(at: later())).contains(a.ownRecord))
    }

    @Test mutating func leftIsFinalForItsIncarnation() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        let peer = Self.record(2).id
        _ = a.receive(.gossip(hops: 1, records: [Self.record(3), Self.record(3, state: .left)]), from: peer, at: later())
        _ = a.receive(.gossip(hops: 1, records: [Self.record(3)]), from: peer, at: later())
        #expect(a.member(Self.record(3).id)?.state == .left)
        _ = a.receive(.gossip(hops: 1, records: [Self.record(3, incarnation: 101)]), from: peer, at: later())
        #expect(a.member(Self.record(3).id)?.state == .alive)
    }

    @Test mutating func malformedOversizedAndOverlongMessagesAreAnsweredWithAnError() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        let peer = Self.record(2).id
        let tooMany = LinkMessage.gossip(hops: 1, records: Array(repeating: Self.record(3), count: LinkMessage.maxRecords + 1))
        let tooFar = LinkMessage.gossip(hops: LinkMessage.maxHops + 1, records: [Self.record(3)])
        for bytes in [
            Array("not json".utf8), Array(#"{"type":"ping","seq":-1}"#.utf8), Array(#"{"type":"teleport"}"#.utf8),
            Array(repeating: UInt8(ascii: " "), count: LinkMessage.maxBytes + 1), tooMany.encoded(), tooFar.encoded(),
            Array(#"{"type":"summary","count":1,"digest":"zz","reply":true}"#.utf8),
            LinkMessage.have(members: Array(repeating: MemberDigest(Self.record(3)), count: LinkMessage.maxHaveEntries + 1), reply: false)
                .encoded(),
            LinkMessage.have(members: [MemberDigest(Self.record(3)), MemberDigest(Self.record(3))], reply: false).encoded(),
            Array(#"{"type":"have","members":[["abc",-1,"alive"]],"reply":false}"#.utf8),
            Array(#"{"type":"have","members":[["abc",1,"asleep"]],"reply":false}"#.utf8),
        ] {
            #expect(Self.errors(a.receive(bytes, from: peer, at: later())) == ["bad-message"])
        }
        #expect(a.counters.malformed == 11)
        #expect(a.member(Self.record(3).id) == nil)
    }

    @Test mutating func aFloodingLinkGetsOneWarningAndNoMoreAnswers() {
        var a = Self.node(1) {
            $0.messageRate = 5
            $0.messageBurst = 5
        }
        _ = Self.linked(&a)
        let peer = Self.record(2).id
        var acks = 0
        var errors = 0
        for seq in 0..<50 {
            for effect in a.receive(LinkMessage.ping(seq: UInt64(seq)).encoded(), from: peer, at: clock) {
                if case .send(.ack, _) = effect { acks += 1 }
                if case .send(.error("rate-limited", _), _) = effect { errors += 1 }
            }
        }
        #expect(acks == 5)
        #expect(errors == 1)
        #expect(a.counters.rateLimited == 45)
    }

    @Test mutating func theMemberTableIsCappedAndGoneMembersMakeRoom() {
        var a = Self.node(1) { $0.maxMembers = 4 }
        _ = Self.linked(&a)
        let peer = Self.record(2).id
        _ = a.receive(.gossip(hops: 1, records: [3, 4, 5].map { Self.record($0) }), from: peer, at: later())
        #expect(a.members.count == 4)
        #expect(a.counters.tableFull == 1)
        _ = a.receive(.gossip(hops: 1, records: [Self.record(3, state: .left), Self.record(5)]), from: peer, at: later())
        #expect(a.members.count == 4)
        #expect(a.member(Self.record(5).id)?.state == .alive)
        #expect(a.member(Self.record(3).id) == nil)
    }

    @Test mutating func linksStayWithinTheCapAndARefusedDiallerHearsOfOthers() {
        var a = Self.node(1) { $0.maxLinks = 2 }
        _ = a.linkUp(1, record: Self.proven(Self.record(2)), dialedByUs: false, peerIsolated: false, at: later())
        _ = a.linkUp(2, record: Self.proven(Self.record(3)), dialedByUs: false, peerIsolated: false, at: later())
        let refused = a.linkUp(3, record: Self.proven(Self.record(4)), dialedByUs: false, peerIsolated: false, at: later())
        #expect(refused.last == .closeLink(3, .full))
        #expect(refused.contains { if case .sendOnLink(.gossip, 3) = $0 { true } else { false } })
        #expect(a.linkedPeers.count == 2)
        // An isolated dialler gets a place: another link is shed.
        let forced = a.linkUp(4, record: Self.proven(Self.record(5)), dialedByUs: false, peerIsolated: true, at: later())
        #expect(forced.contains { if case .closeLink(_, .shed) = $0 { true } else { false } })
        #expect(a.linkedPeers.count == 2)
        #expect(a.link(to: Self.record(5).id) == 4)
    }

    @Test mutating func twoLinksBetweenTheSameNodesBecomeOneAtBothEnds() {
        var one = Self.node(1)
        var two = Self.node(2)
        // Each dials the other at once: link 10 is dialled by node 1, link 20 by node 2.
        let smallerDials10 = one.id < two.id
        _ = one.linkUp(10, record: Self.proven(two.ownRecord), dialedByUs: true, peerIsolated: false, at: later())
        _ = two.linkUp(20, record: Self.proven(one.ownRecord), dialedByUs: true, peerIsolated: false, at: later())
        let oneEffects = one.linkUp(20, record: Self.proven(two.ownRecord), dialedByUs: false, peerIsolated: false, at: later())
        let twoEffects = two.linkUp(10, record: Self.proven(one.ownRecord), dialedByUs: false, peerIsolated: false, at: later())
        let kept: LinkID = smallerDials10 ? 10 : 20
        #expect(one.link(to: two.id) == kept)
        #expect(two.link(to: one.id) == kept)
        #expect((oneEffects + twoEffects).filter { if case .closeLink(_, .duplicate) = $0 { true } else { false } }.count == 2)
    }

    /// 200 members whose addresses all refuse (a hostile member can sign any address it likes, as many times as
    /// it has keys): the node connects to them no faster than `dialRate`, however many it hears of.
    @Test mutating func dialsToAddressesLearntFromTheMeshAreRateBound() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        let records = (10...209).map { Self.record(UInt64($0)) }
        var effects: [MembershipEffect] = []
        for batch in stride(from: 0, to: records.count, by: LinkMessage.maxRecords) {
            effects += a.receive(
                .gossip(hops: 1, records: Array(records[batch..<min(records.count, batch + LinkMessage.maxRecords)])),
                from: Self.record(2).id, at: later())
        }
        var dials = 0
        let start = clock
        while clock.milliseconds - start.milliseconds < 10_000 {
            var next: [MembershipEffect] = []
            for case .dial(let address) in effects {
                dials += 1
                next += a.dialFailed(address, refused: true, at: clock)
            }
            effects = next + a.tick(at: later())
        }
        let configuration = MembershipConfiguration()
        #expect(dials > 0)
        #expect(dials <= configuration.dialBurst + configuration.dialRate * 10, "\(dials) dials in 10 s")
        #expect(a.counters.dialsDeferred > 0)
    }

    /// A node's timer sleeps until `nextWake`: right after any tick that is in the future, or the timer would spin
    /// (a probe under way, too few links, a join target that is gone, a suspicion running).
    @Test mutating func theNextWakeAfterATickIsAlwaysLater() {
        var a = Self.node(1)
        _ = Self.linked(&a)
        _ = a.join([try! NodeAddress(parsing: "10.0.0.9:8000")], at: later())
        var spins = 0
        for _ in 0..<1_000 {
            let now = later()
            _ = a.tick(at: now)
            if a.nextWake(at: now) <= now { spins += 1 }
        }
        #expect(spins == 0)
        #expect(a.member(Self.record(2).id)?.state != .alive, "the unanswering peer was never suspected: the test tested nothing")
    }

    @Test func everyMessageSurvivesItsEncoding() {
        let messages: [LinkMessage] = [
            .ping(seq: 1), .ack(seq: 1 << 53), .nack(seq: 0), .pingRequest(seq: 7, target: Self.record(3).id),
            .gossip(hops: 3, records: [Self.record(3), Self.claim(Self.record(3), .suspect, by: 2, evidence: .refused)]),
            .summary(count: 12, digest: .max, reply: true), .error(code: "bad-message", message: "what went wrong"),
            .have(members: [MemberDigest(Self.record(3)), MemberDigest(id: Self.record(4).id, incarnation: 1 << 53, state: .left)], reply: true),
            .have(members: [], reply: false),
        ]
        for message in messages { #expect(LinkMessage.decode(message.encoded()) == .success(message)) }
    }
}
