import AshitaCore

extension FuzzHarness {
    /// Bytes as a script for one node's membership, with small bounds so the fuzzer reaches them: links open and
    /// close, neighbours send raw bytes, well-formed but forged or stale records, summaries and pings, the clock
    /// moves and dials fail. After each step the bounds and the node's own record must hold.
    static func runMembershipScript(_ data: [UInt8]) {
        var configuration = MembershipConfiguration()
        configuration.maxMembers = 6
        configuration.maxLinks = 3
        configuration.messageRate = 50
        configuration.messageBurst = 20
        var clock = Timestamp(milliseconds: 1_000)
        var node = Membership(
            configuration: configuration, address: try! NodeAddress(parsing: "10.0.0.1:8000"),
            signing: SimulatedSigning(seed: 1), incarnation: 100, seed: 1, at: clock)
        let peers: [UInt64] = Array(2...9)
        func record(_ seed: UInt64, _ incarnation: UInt64, _ state: MemberState, signer: UInt64, forged: Bool) -> MemberRecord {
            let subject = SimulatedSigning(seed: seed)
            let claimer = SimulatedSigning(seed: signer)
            var record = MemberRecord(
                id: subject.id(ofKey: subject.publicKey), key: subject.publicKey,
                address: try! NodeAddress(parsing: "10.0.0.\(seed):8000"), incarnation: incarnation, state: state,
                evidence: state == .suspect ? .silent : nil, signer: claimer.id(ofKey: claimer.publicKey))
            record.signature = forged ? [1, 2, 3] : claimer.sign(record.signedBytes)
            return record
        }
        var index = 0
        func take() -> UInt8? {
            guard index < data.count else { return nil }
            defer { index += 1 }
            return data[index]
        }
        var nextLink: LinkID = 1
        while let op = take() {
            let peer = peers[Int(take() ?? 0) % peers.count]
            let peerID = SimulatedSigning(seed: peer).id(ofKey: SimulatedSigning(seed: peer).publicKey)
            let flag = op & 0x80 != 0
            var effects: [MembershipEffect] = []
            switch op % 8 {
            case 0:
                guard let proven = try? ProvenRecord(checking: record(peer, 100, .alive, signer: peer, forged: false), signing: SimulatedSigning(seed: 1))
                else { break }
                effects = node.linkUp(nextLink, record: proven, dialedByUs: flag, peerIsolated: op & 0x40 != 0, at: clock)
                nextLink += 1
            case 1:
                if let link = node.link(to: peerID) { effects = node.linkDown(link, peer: peerID, lost: flag, at: clock) }
            case 2:
                let count = Int(take() ?? 0)
                var bytes: [UInt8] = []
                while bytes.count < count, let byte = take() { bytes.append(byte) }
                effects = node.receive(bytes, from: peerID, at: clock)
            case 3:
                let subject = UInt64(take() ?? 0) % 10
                let states = MemberState.allCases
                let state = states[Int(take() ?? 0) % states.count]
                let incarnation = 98 + UInt64(take() ?? 0) % 5
                let signer = state == .alive || state == .left ? subject : peers[Int(take() ?? 0) % peers.count]
                let message = LinkMessage.gossip(
                    hops: Int(op >> 4), records: [record(subject, incarnation, state, signer: signer, forged: flag)])
                effects = node.receive(message.encoded(), from: peerID, at: clock)
            case 4:
                clock = clock.adding(milliseconds: Int64(take() ?? 0) * 97)
                effects = node.tick(at: clock)
            case 5:
                effects = node.dialFailed(try! NodeAddress(parsing: "10.0.0.\(peer):8000"), refused: flag, at: clock)
            case 6 where op & 0x80 == 0:
                let message = LinkMessage.summary(count: Int(take() ?? 0), digest: UInt64(take() ?? 0), reply: flag)
                effects = node.receive(message.encoded(), from: peerID, at: clock)
            case 6:
                // What a neighbour says it holds: some members, at some incarnations and states.
                var members: [MemberDigest] = []
                for subject in 0..<UInt64(take() ?? 0) % 10 where take().map({ $0 & 1 == 0 }) ?? false {
                    let states = MemberState.allCases
                    members.append(
                        MemberDigest(
                            id: record(subject, 100, .alive, signer: subject, forged: false).id, incarnation: 98 + UInt64(take() ?? 0) % 5,
                            state: states[Int(take() ?? 0) % states.count]))
                }
                effects = node.receive(LinkMessage.have(members: members, reply: op & 0x40 != 0).encoded(), from: peerID, at: clock)
            default:
                let seq = UInt64(take() ?? 0)
                let messages: [LinkMessage] = [.ping(seq: seq), .ack(seq: seq), .nack(seq: seq), .pingRequest(seq: seq, target: peerID)]
                effects = node.receive(messages[Int(op >> 3) % messages.count].encoded(), from: peerID, at: clock)
            }
            checkInvariants(node, effects)
        }
    }

    static func checkInvariants(_ node: Membership, _ effects: [MembershipEffect]) {
        precondition(node.members.count <= node.configuration.maxMembers, "over the member cap")
        precondition(node.linkedPeers.count <= node.configuration.maxLinks, "over the link cap")
        precondition(!node.linkedPeers.contains(node.id), "linked to itself")
        precondition(node.ownRecord.state == .alive || node.hasLeft, "the node holds itself other than alive")
        precondition(node.ownRecord.signer == node.id, "the node's own record is signed by another")
        let linked = Set(node.linkedPeers)
        for case .send(let message, let recipients) in effects {
            precondition(!recipients.isEmpty, "a message to nobody")
            precondition(recipients.allSatisfy(linked.contains), "a message to a member without a link")
            if case .gossip(let hops, let records) = message {
                precondition(hops <= LinkMessage.maxHops && records.count <= LinkMessage.maxRecords, "gossip beyond its bounds")
            }
        }
    }
}
