/// One client connection's number on a node, unique for the node's lifetime.
public typealias ClientID = UInt64

/// How a node closes a WebSocket: RFC 6455 code and a short reason.
public struct CloseReason: Equatable, Sendable {
    public var code: UInt16
    public var reason: String

    public static let goingAway = CloseReason(code: 1001, reason: "node is shutting down")
    public static let unsupportedData = CloseReason(code: 1003, reason: "binary frames are not accepted")
    public static let policyViolation = CloseReason(code: 1008, reason: "too many bad frames")
    public static let tooBig = CloseReason(code: 1009, reason: "frame too big")
    public static let kicked = CloseReason(code: 1008, reason: "disconnected by the node's operator")
    public static let tooSlow = CloseReason(code: 1008, reason: "too slow: outbound queue full")
}

/// What the mesh asks the edges to do after a change. Fan-outs name their recipients so the edge can encode
/// the event once.
public enum MeshEffect: Equatable, Sendable {
    case send(ServerEvent, to: ClientID)
    case fanOut(ServerEvent, to: [ClientID])
    case close(ClientID, CloseReason)
    case journal(JournalEntry)
}

/// One frame as the WebSocket layer hands it over.
public enum InboundFrame: Equatable, Sendable {
    case text([UInt8])
    case binary
}

public struct MeshConfiguration: Sendable {
    public var identity: NodeIdentity
    public var address: NodeAddress
    public var operatorToken: String
    /// Bad frames a connection may send before it is closed with 1008.
    public var maxStrikes = 5
    public var journalCapacity = 1024
    public var authFailureLimit = 5
    public var authFailureWindowMilliseconds: Int64 = 60_000

    public init(address: NodeAddress, id: String, version: String, operatorToken: String) {
        self.address = address
        self.identity = NodeIdentity(address: address, id: id, version: version)
        self.operatorToken = operatorToken
    }
}

/// A node's view of its clients and peers, and the protocol's rules. Pure: driven by what clients send and a
/// clock passed in; sockets live at the edges and carry out the returned effects in order.
public struct Mesh: Sendable {
    public struct Client: Sendable {
        public var id: ClientID
        public var remote: String
        public var since: Timestamp
        /// nil until the client sends `auth`; then `.some(nil)` for an observer.
        public var home: NodeAddress??
        public var isOperator = false
        var strikes = 0

        public var isAuthenticated: Bool { home != nil }
    }

    public struct Peer: Equatable, Sendable {
        public var address: NodeAddress
        public var since: Timestamp
        public var clients: Set<ClientID>
    }

    public let configuration: MeshConfiguration
    public private(set) var clients: [ClientID: Client] = [:]
    public private(set) var journal: EventJournal
    private var peerTable: [NodeAddress: Peer] = [:]
    /// Peers in the order they arrived, which is `since` order: listing them needs no sort.
    private var peerOrder: [NodeAddress] = []
    private var authenticated: Set<ClientID> = []
    private var authFailures: FailureLimiter

    public init(configuration: MeshConfiguration, boot: String) {
        self.configuration = configuration
        self.journal = EventJournal(boot: boot, capacity: configuration.journalCapacity)
        self.authFailures = FailureLimiter(
            limit: configuration.authFailureLimit, windowMilliseconds: configuration.authFailureWindowMilliseconds)
    }

    /// Peers, oldest first: nodes whose clients are connected here. The node itself is never its own peer.
    public var peers: [Peer] { peerOrder.map { peerTable[$0]! } }

    public var operatorCount: Int { clients.values.count(where: \.isOperator) }

    // MARK: Connections

    public mutating func connect(_ id: ClientID, remote: String, at now: Timestamp) -> [MeshEffect] {
        precondition(clients[id] == nil, "client \(id) connected twice")
        clients[id] = Client(id: id, remote: remote, since: now)
        return [record(JournalType.clientConnected, JournalContent(client: id, remote: remote), now)]
    }

    public mutating func disconnect(_ id: ClientID, at now: Timestamp) -> [MeshEffect] {
        guard let client = clients.removeValue(forKey: id) else { return [] }
        authenticated.remove(id)
        var effects: [MeshEffect] = []
        if case .some(.some(let home)) = client.home {
            effects += detach(id, from: home, now)
        }
        effects.append(
            record(JournalType.clientDisconnected, JournalContent(client: id, home: client.home??.description), now))
        return effects
    }

    // MARK: Frames

    public mutating func receive(_ id: ClientID, _ frame: InboundFrame, at now: Timestamp) -> [MeshEffect] {
        guard clients[id] != nil else { return [] }
        switch frame {
        case .binary:
            return reject(id, ProtocolViolation(.binaryFrame, "binary frames are not accepted; send JSON text"), now, closing: .unsupportedData)
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
    private mutating func reject(
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
        var isOperator = false
        if let token {
            if authFailures.isBlocked(remote, at: now) {
                return reject(
                    id, ProtocolViolation(.rateLimited, "too many failed operator logins from \(remote); wait a minute"),
                    now)
            }
            guard OperatorToken.matches(token, configuration.operatorToken) else {
                authFailures.recordFailure(remote, at: now)
                return reject(id, ProtocolViolation(.unauthorized, "operator token rejected"), now)
            }
            isOperator = true
        }

        var effects: [MeshEffect] = []
        // Re-auth under another home: leave the old one first, so no stale entry remains.
        if case .some(.some(let old)) = clients[id]!.home, old != home {
            effects += detach(id, from: old, now)
        }
        if let home, home != configuration.address {
            if peerTable[home] == nil {
                let others = authenticated.filter { $0 != id }
                if !others.isEmpty {
                    effects.append(.fanOut(.nodeDiscovered(home), to: Array(others)))
                }
                effects.append(record(JournalType.nodeDiscovered, JournalContent(nodeIp: home.description), now))
                peerTable[home] = Peer(address: home, since: now, clients: [id])
                peerOrder.append(home)
            } else {
                peerTable[home]!.clients.insert(id)
            }
        }
        clients[id]!.home = .some(home)
        clients[id]!.isOperator = isOperator
        authenticated.insert(id)

        effects.append(.send(.nodeConnected(configuration.identity), to: id))
        effects.append(.send(.nodeList(peerOrder), to: id))
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

    private mutating func detach(_ id: ClientID, from home: NodeAddress, _ now: Timestamp) -> [MeshEffect] {
        guard peerTable[home] != nil else { return [] }
        peerTable[home]!.clients.remove(id)
        guard peerTable[home]!.clients.isEmpty else { return [] }
        peerTable[home] = nil
        peerOrder.removeAll { $0 == home }
        var effects: [MeshEffect] = []
        let others = authenticated.filter { $0 != id }
        if !others.isEmpty {
            effects.append(.fanOut(.nodeLeft(home), to: Array(others)))
        }
        effects.append(record(JournalType.nodeLeft, JournalContent(nodeIp: home.description), now))
        return effects
    }

    private mutating func record(_ type: String, _ content: JournalContent, _ now: Timestamp) -> MeshEffect {
        .journal(journal.append(type: type, content: content, at: now))
    }

    // MARK: Operator

    /// Checks a bearer token for the HTTP API, with the same rate limit as WebSocket operator logins.
    public mutating func checkOperatorToken(_ token: String, from remote: String, at now: Timestamp) -> TokenCheck {
        if authFailures.isBlocked(remote, at: now) { return .rateLimited }
        if OperatorToken.matches(token, configuration.operatorToken) { return .accepted }
        authFailures.recordFailure(remote, at: now)
        return .rejected
    }

    public enum TokenCheck: Equatable, Sendable { case accepted, rejected, rateLimited }

    /// Closes every client announcing `home` (the operator's kick). The closes come back as disconnects.
    public func kick(_ home: NodeAddress) -> [MeshEffect] {
        (peerTable[home]?.clients.sorted() ?? []).map { .close($0, .kicked) }
    }
}
