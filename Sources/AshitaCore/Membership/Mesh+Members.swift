extension Mesh {
    /// A member of the mesh between nodes changed state: the journal says so (`memberJoined`, `memberSuspected`,
    /// `memberFailed`, `memberLeft`, with its address and id), for `/api/v1/events` and `ashita watch`.
    public mutating func memberChanged(_ member: MemberRecord, previous: MemberState?, at now: Timestamp) -> [MeshEffect] {
        let type: String
        switch member.state {
        case .alive: type = JournalType.memberJoined
        case .suspect: type = JournalType.memberSuspected
        case .failed: type = JournalType.memberFailed
        case .left: type = JournalType.memberLeft
        }
        return [record(type, JournalContent(nodeIp: member.address.description, id: member.id), now)]
    }
}
