/// Which announced nodes a client follows, so that no one announcer can fill its sockets (an eclipse): one
/// socket per node id, however many addresses a node is announced under, and at most `perAnnouncer` of the
/// client's sockets opened on the word of any one node. The browser page follows the same rules.
public struct FollowPolicy: Sendable {
    public let maxConnections: Int
    public let perAnnouncer: Int
    public private(set) var followed: Set<NodeAddress> = []
    /// Ids of followed nodes, as announced or as the node said itself.
    private var ids: [String: NodeAddress] = [:]
    private var openedOnWordOf: [NodeAddress: Int] = [:]

    public init(maxConnections: Int, perAnnouncer: Int? = nil) {
        self.maxConnections = maxConnections
        self.perAnnouncer = perAnnouncer ?? max(2, maxConnections / 4)
    }

    public enum Decision: Equatable, Sendable {
        case follow
        /// Followed already, under this address: nothing to say.
        case known
        /// Followed already under another address (the same id).
        case sameNode(as: NodeAddress)
        case announcerLimit
        case full
    }

    /// The node the client starts from (or one it opens itself).
    public mutating func start(_ address: NodeAddress) {
        followed.insert(address)
    }

    /// A node said who it is (`nodeConnected`): later announcements of its id under other names are skipped.
    public mutating func identified(_ address: NodeAddress, id: String) {
        if ids[id] == nil { ids[id] = address }
    }

    /// `announcer` told of `address` (with the id it verified there, if any).
    public mutating func consider(_ address: NodeAddress, id: String?, announcedBy announcer: NodeAddress) -> Decision {
        if followed.contains(address) { return .known }
        if let id, let other = ids[id] { return .sameNode(as: other) }
        guard followed.count < maxConnections else { return .full }
        guard openedOnWordOf[announcer, default: 0] < perAnnouncer else { return .announcerLimit }
        followed.insert(address)
        if let id { ids[id] = address }
        openedOnWordOf[announcer, default: 0] += 1
        return .follow
    }
}
