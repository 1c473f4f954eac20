/// One client connection's number on a node, unique for the node's lifetime.
public typealias ClientID = UInt64

/// How a node closes a WebSocket: RFC 6455 code and a short reason.
public struct CloseReason: Equatable, Sendable {
    public var code: UInt16
    public var reason: String

    public init(code: UInt16, reason: String) {
        self.code = code
        self.reason = reason
    }

    public static let goingAway = CloseReason(code: 1001, reason: "node is shutting down")
    public static let unsupportedData = CloseReason(code: 1003, reason: "binary frames are not accepted")
    public static let policyViolation = CloseReason(code: 1008, reason: "too many bad frames")
    public static let tooBig = CloseReason(code: 1009, reason: "frame too big")
    public static let kicked = CloseReason(code: 1008, reason: "disconnected by the node's operator")
    public static let tooSlow = CloseReason(code: 1008, reason: "too slow: outbound queue full")
    public static let authTimeout = CloseReason(code: 1008, reason: "no auth in time")
    public static let noPong = CloseReason(code: 1001, reason: "no pong to two pings")
    public static let full = CloseReason(code: 1013, reason: "node is full; try another node")
    public static let banned = CloseReason(code: 1008, reason: "banned by the node's operator")
}

/// What the mesh asks the edges to do after a change. Fan-outs name their recipients so the edge can encode
/// the event once.
public enum MeshEffect: Equatable, Sendable {
    case send(ServerEvent, to: ClientID)
    case fanOut(ServerEvent, to: [ClientID])
    case close(ClientID, CloseReason)
    case journal(JournalEntry)
    /// Check that an ashita node answers at this address, then report with `verified` or `verificationFailed`.
    /// `announcer` is the remote address of the client that asked for it, so checks can be shared fairly.
    case verify(NodeAddress, announcer: String)
}

/// One frame as the WebSocket layer hands it over.
public enum InboundFrame: Equatable, Sendable {
    case text([UInt8])
    case binary
    /// A ping or pong: the edge answers it, but it costs the sender a message from its rate like any frame,
    /// so a flood of control frames is limited and closed like a flood of messages.
    case control
}

/// The bounds the mesh's rules keep, declared once: the node's limits carry these (`NodeLimits.mesh`) and `serve`'s
/// flags default to them.
public struct MeshLimits: Sendable, Equatable {
    /// Bad frames a connection may send before it is closed with 1008.
    public var maxStrikes = 5
    public var journalCapacity = 1024
    public var authFailureLimit = 5
    public var authFailureWindowMilliseconds: Int64 = 60_000
    /// WebSocket clients at once; more are closed with 1013.
    public var maxClients = 10_000
    /// Messages a second per connection, on average and at once; excess is answered `rate-limited`.
    public var messageRate = 20
    public var messageBurst = 50
    /// Distinct homes one connection may announce over its life.
    public var maxAnnouncementsPerClient = 8
    /// Relay a new home only once an ashita node has been seen to answer there.
    public var verifyAnnouncements = true

    public init() {}
}

/// Who this node is, and its limits (read and written as if they were its own properties: `maxClients`).
@dynamicMemberLookup
public struct MeshConfiguration: Sendable {
    public var identity: NodeIdentity
    public var address: NodeAddress
    public var operatorToken: String
    public var limits = MeshLimits()

    public init(address: NodeAddress, id: String, version: String, operatorToken: String, tls: Bool = false) {
        self.address = address
        self.identity = NodeIdentity(address: address, id: id, version: version, tls: tls)
        self.operatorToken = operatorToken
    }

    public subscript<Value>(dynamicMember limit: WritableKeyPath<MeshLimits, Value>) -> Value {
        get { limits[keyPath: limit] }
        set { limits[keyPath: limit] = newValue }
    }
}

/// A node's view of its clients and peers, and the protocol's rules. Pure: driven by what clients send, what
/// verification finds, and a clock passed in; sockets live at the edges and carry out the returned effects in
/// order.
public struct Mesh: Sendable {
    public struct Client: Sendable {
        public var id: ClientID
        public var remote: String
        public var since: Timestamp
        /// nil until the client sends `auth`; then `.some(nil)` for an observer.
        public var home: NodeAddress??
        public var isOperator = false
        var strikes = 0
        var messages: TokenBucket
        var announced: Set<NodeAddress> = []
        /// How often it changed its home: every change is a fan-out to every client.
        var homeChanges = 0

        /// What per-address limits count it under (an IPv6 client by its /64).
        var limitKey: String { IPAddress.limitKey(remote) }

        public var isAuthenticated: Bool { home != nil }
    }

    public enum Verification: Equatable, Sendable {
        case pending
        case verified(PeerFacts)
        /// Why, for the operator only: announcers and the public journal are not told what was found.
        case failed(String)
        /// The node's own id answers there: another spelling of this node, never a peer.
        case isSelf
    }

    public struct Peer: Equatable, Sendable {
        /// Fixed for the peer's life (the table is keyed by it), so `nodeIp` never goes stale.
        public let address: NodeAddress
        public var since: Timestamp
        public var clients: Set<ClientID>
        public var verification: Verification {
            didSet { announcement = Self.announcement(nodeIp, verification) }
        }
        /// `address` as text, written once: every new client's `nodeList` names every peer.
        let nodeIp: String
        /// How `nodeList` and `nodeDiscovered` describe it once verified, with its JSON already written.
        private(set) var announcement: PeerAnnouncement?

        init(address: NodeAddress, since: Timestamp, clients: Set<ClientID>, verification: Verification) {
            self.address = address
            self.since = since
            self.clients = clients
            self.verification = verification
            self.nodeIp = address.description
            self.announcement = Self.announcement(nodeIp, verification)
        }

        private static func announcement(_ nodeIp: String, _ verification: Verification) -> PeerAnnouncement? {
            guard case .verified(let facts) = verification else { return nil }
            var announcement = PeerAnnouncement(nodeIp: nodeIp, facts)
            announcement.written = PeerAnnouncement.Written(announcement)
            return announcement
        }

        public var facts: PeerFacts? {
            if case .verified(let facts) = verification { facts } else { nil }
        }
    }

    public let configuration: MeshConfiguration
    public internal(set) var clients: [ClientID: Client] = [:]
    public internal(set) var journal: EventJournal
    var peerTable: [NodeAddress: Peer] = [:]
    /// Peers in the order they arrived, which is `since` order: listing them needs no sort.
    var peerOrder: [NodeAddress] = []
    /// Live members of the mesh between nodes (from the node's links), by address, with their ids, in the order
    /// they joined: announced to clients like verified peers.
    var members: [NodeAddress: String] = [:]
    var memberOrder: [NodeAddress] = []
    var authenticated: Set<ClientID> = []
    var authFailures: FailureLimiter
    /// What the operator banned; the edge keeps it in the data directory.
    public internal(set) var bans: BanList

    public init(configuration: MeshConfiguration, boot: String, bans: BanList = BanList()) {
        self.bans = bans
        self.configuration = configuration
        self.journal = EventJournal(boot: boot, capacity: configuration.journalCapacity)
        self.authFailures = FailureLimiter(
            limit: configuration.authFailureLimit, windowMilliseconds: configuration.authFailureWindowMilliseconds)
    }

    // MARK: Connections

    /// Registers a new WebSocket client, or closes it with 1013 when the node already has `maxClients`.
    public mutating func connect(_ id: ClientID, remote: String, at now: Timestamp) -> [MeshEffect] {
        precondition(clients[id] == nil, "client \(id) connected twice")
        guard clients.count < configuration.maxClients else { return [.close(id, .full)] }
        guard !bans.isBanned(.address, IPAddress.limitKey(remote), at: now) else { return [.close(id, .banned)] }
        clients[id] = Client(
            id: id, remote: remote, since: now,
            messages: TokenBucket(rate: configuration.messageRate, burst: configuration.messageBurst, at: now))
        // Which address a client comes from is the operator's to know (`/api/v1/clients`), not the public
        // event stream's.
        return [record(JournalType.clientConnected, JournalContent(client: id), now)]
    }

    /// The client's socket closed; `closedWith` is the node's reason when the node closed it.
    public mutating func disconnect(_ id: ClientID, closedWith reason: CloseReason? = nil, at now: Timestamp) -> [MeshEffect] {
        guard let client = clients.removeValue(forKey: id) else { return [] }
        authenticated.remove(id)
        var effects: [MeshEffect] = []
        if case .some(.some(let home)) = client.home {
            effects += detach(id, from: home, now)
        }
        effects.append(
            record(
                JournalType.clientDisconnected,
                JournalContent(
                    client: id, home: client.home??.description, message: reason?.reason, closeCode: reason.map { Int($0.code) }),
                now))
        return effects
    }

    /// The edge's timer for `--auth-timeout` ran out: a client that has not sent `auth` yet is closed.
    public func authDeadlinePassed(_ id: ClientID) -> [MeshEffect] {
        guard let client = clients[id], !client.isAuthenticated else { return [] }
        return [.close(id, .authTimeout)]
    }

    // MARK: Frames

    /// What a frame changes. A `.control` frame within the sender's rate changes nothing and returns no effects.
    public mutating func receive(_ id: ClientID, _ frame: InboundFrame, at now: Timestamp) -> [MeshEffect] {
        guard clients[id] != nil else { return [] }
        guard clients[id]!.messages.take(at: now) else {
            let rate = configuration.messageRate
            return reject(id, ProtocolViolation(.rateLimited, "more than \(rate) messages a second; slow down"), now)
        }
        switch frame {
        case .control:
            return []
        case .binary:
            return reject(
                id, ProtocolViolation(.binaryFrame, "binary frames are not accepted; send JSON text"), now,
                closing: .unsupportedData)
        case .text(let bytes):
            switch ClientMessage.decode(bytes) {
            case .failure(let violation):
                return reject(id, violation, now)
            case .success(.ping):
                return [.send(.pong, to: id)]
            case .success(.auth(let home, let token)):
                return authenticate(id, home: home, token: token, now)
            }
        }
    }

    /// A frame the WebSocket layer refused before decoding (over the size limit): answer, then close with 1009.
    public mutating func rejectOversized(_ id: ClientID, size: Int, limit: Int, at now: Timestamp) -> [MeshEffect] {
        guard clients[id] != nil else { return [] }
        let violation = ProtocolViolation(.tooBig, "frame of \(size) bytes is over the limit of \(limit) bytes")
        return reject(id, violation, now, closing: .tooBig)
    }

    /// Answers a violation with an `error` event, then closes with `closing`, or with 1008 once strikes run out.
    mutating func reject(
        _ id: ClientID, _ violation: ProtocolViolation, _ now: Timestamp, closing: CloseReason? = nil
    ) -> [MeshEffect] {
        clients[id]!.strikes += 1
        var effects: [MeshEffect] = [
            .send(.error(violation), to: id),
            record(JournalType.protocolError, JournalContent(client: id, code: violation.code.rawValue), now),
        ]
        if let closing {
            effects.append(.close(id, closing))
        } else if clients[id]!.strikes >= configuration.maxStrikes {
            effects.append(.close(id, .policyViolation))
        }
        return effects
    }

    private mutating func authenticate(_ id: ClientID, home: NodeAddress?, token: String?, _ now: Timestamp)
        -> [MeshEffect]
    {
        let remote = clients[id]!.remote
        let key = clients[id]!.limitKey
        var isOperator = false
        if let token {
            if authFailures.isBlocked(key, at: now) {
                return reject(
                    id, ProtocolViolation(.rateLimited, "too many failed operator logins from \(remote); wait a minute"),
                    now)
            }
            guard OperatorToken.matches(token, configuration.operatorToken) else {
                authFailures.recordFailure(key, at: now)
                return reject(id, ProtocolViolation(.unauthorized, "operator token rejected"), now)
            }
            isOperator = true
        }
        if let home, bans.isBanned(.home, home.description, at: now) {
            return reject(id, ProtocolViolation(.banned, "\(home) is banned on this node"), now, closing: .banned)
        }
        if let home, !clients[id]!.announced.contains(home),
            clients[id]!.announced.count >= configuration.maxAnnouncementsPerClient
        {
            let limit = configuration.maxAnnouncementsPerClient
            return reject(
                id, ProtocolViolation(.rateLimited, "this connection already announced \(limit) homes; reconnect"), now)
        }

        if case .some(let current) = clients[id]!.home, current != home {
            guard clients[id]!.homeChanges < 2 * configuration.maxAnnouncementsPerClient else {
                let limit = 2 * configuration.maxAnnouncementsPerClient
                return reject(
                    id, ProtocolViolation(.rateLimited, "this connection changed its home \(limit) times; reconnect"), now)
            }
            clients[id]!.homeChanges += 1
        }

        var effects: [MeshEffect] = []
        // Re-auth under another home: leave the old one first, so no stale entry remains.
        if case .some(.some(let old)) = clients[id]!.home, old != home {
            effects += detach(id, from: old, now)
        }
        if let home, home != configuration.address {
            clients[id]!.announced.insert(home)
            effects += attach(id, to: home, now)
        }
        clients[id]!.home = .some(home)
        clients[id]!.isOperator = isOperator
        authenticated.insert(id)

        effects.append(.send(.nodeConnected(configuration.identity), to: id))
        effects.append(.send(.nodeList(peerAnnouncements + memberAnnouncements), to: id))
        effects.append(
            record(
                JournalType.clientAuthenticated,
                JournalContent(client: id, home: home?.description, operator: isOperator), now))
        if isOperator {
            effects.append(.send(.nodeOperatorConnected(configuration.identity), to: id))
            effects.append(record(JournalType.nodeOperatorConnected, JournalContent(client: id), now))
        }
        return effects
    }

    mutating func record(_ type: String, _ content: JournalContent, _ now: Timestamp) -> MeshEffect {
        .journal(journal.append(type: type, content: content, at: now))
    }
}
