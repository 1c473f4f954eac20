extension Mesh {
    /// A member of the mesh between nodes changed state. Clients hear of it like of a verified peer: a member that
    /// became alive with `nodeDiscovered` (unless they know it as a peer already), one that failed or left with
    /// `nodeLeft` (unless it is still a peer); new clients find live members in `nodeList`. The journal says
    /// `memberJoined`, `memberSuspected`, `memberFailed` or `memberLeft`, with its address and id.
    public mutating func memberChanged(_ member: MemberRecord, previous: MemberState?, at now: Timestamp) -> [MeshEffect] {
        let address = member.address
        let type: String
        var effects: [MeshEffect] = []
        let knownAsPeer = peerTable[address]?.facts != nil
        // Never announced to the clients whose home it is.
        let recipients = authenticated.filter { clients[$0]?.home != .some(.some(address)) }.sorted()
        switch member.state {
        case .alive:
            type = JournalType.memberJoined
            if address != configuration.address, members[address] == nil {
                members[address] = member.id
                memberOrder.append(address)
                if !knownAsPeer, !recipients.isEmpty {
                    let announcement = PeerAnnouncement(address, PeerFacts(id: member.id, tls: false))
                    effects.append(.fanOut(.nodeDiscovered(announcement), to: recipients))
                }
            }
        case .suspect:
            type = JournalType.memberSuspected
        case .failed, .left:
            type = member.state == .failed ? JournalType.memberFailed : JournalType.memberLeft
            if members.removeValue(forKey: address) != nil {
                memberOrder.removeAll { $0 == address }
                if !knownAsPeer, !recipients.isEmpty {
                    effects.append(.fanOut(.nodeLeft(address), to: recipients))
                }
            }
        }
        effects.append(record(type, JournalContent(nodeIp: address.description, id: member.id), now))
        return effects
    }

    /// The addresses of the mesh's live members, in the order they joined.
    public var memberAddresses: [NodeAddress] { memberOrder }

    /// Live members that are not public peers, as `nodeList` gives them to a new client.
    var memberAnnouncements: [PeerAnnouncement] {
        memberOrder.compactMap { address in
            guard peerTable[address]?.facts == nil, let id = members[address] else { return nil }
            return PeerAnnouncement(address, PeerFacts(id: id, tls: false))
        }
    }
}
