/// `GET /api/v1/members`: every member this node knows, itself included.
public struct MemberList: Codable, Sendable, Equatable {
    public struct Member: Codable, Sendable, Equatable {
        public var id: String
        public var address: String
        /// "alive", "suspect", "failed" or "left".
        public var state: String
        public var incarnation: UInt64
        /// Whether this node has a link to it (always false for itself).
        public var linked: Bool
        /// RFC 3339, UTC: when this node last heard from it over a link; nil if never.
        public var lastHeard: String?
        /// Whether it is this node.
        public var this: Bool
    }

    public var members: [Member]
    public var links: Int

    public init(_ membership: Membership) {
        members = membership.members.map { snapshot in
            Member(
                id: snapshot.record.id, address: snapshot.record.address.description, state: snapshot.record.state.rawValue,
                incarnation: snapshot.record.incarnation, linked: snapshot.linked, lastHeard: snapshot.lastHeard?.iso8601,
                this: snapshot.record.id == membership.id)
        }
        links = membership.linkedPeers.count
    }
}

/// `POST /api/v1/join?node=HOST:PORT`: the node dials it (the answer does not wait for the link).
public struct JoinResult: Codable, Sendable, Equatable {
    public var joining: String

    public init(joining: String) { self.joining = joining }
}
