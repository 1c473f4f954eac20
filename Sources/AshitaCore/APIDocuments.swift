/// The JSON documents of the HTTP API, defined once for the node that writes them and the CLI that reads them.

/// `GET /api/v1/node`.
public struct NodeStatus: Codable, Sendable, Equatable {
    public var node: String
    public var id: String
    public var version: String
    public var uptimeSeconds: Int
    public var clients: Int
    public var peers: Int
    public var operators: Int
    /// Hex of the node's Ed25519 public key; `id` is derived from it. Absent from nodes before 0.2.
    public var publicKey: String?
    /// Whether the node serves HTTPS and WSS.
    public var tls: Bool?
    /// With `?challenge=NONCE`: the nonce, and the hex Ed25519 signature of "ashita-node-challenge:NONCE".
    public var challenge: String?
    public var signature: String?

    public init(
        node: String, id: String, version: String, uptimeSeconds: Int, clients: Int, peers: Int, operators: Int,
        publicKey: String? = nil, tls: Bool? = nil, challenge: String? = nil, signature: String? = nil
    ) {
        self.challenge = challenge
        self.signature = signature
        self.publicKey = publicKey
        self.tls = tls
        self.node = node
        self.id = id
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.clients = clients
        self.peers = peers
        self.operators = operators
    }
}

/// `GET /api/v1/peers`.
public struct PeerList: Codable, Sendable, Equatable {
    public struct Peer: Codable, Sendable, Equatable {
        public var node: String
        /// RFC 3339, UTC.
        public var since: String
        public var clients: Int
        public var direction: String?
        /// The id verification found there; nil when announcements are not verified.
        public var id: String?
        public var tls: Bool?
        /// Only in the operator's view (`?all=1`): "verified", "pending", "unverified" or "self" (another
        /// address of this very node).
        public var status: String?
        /// Only in the operator's view: what the check found, for "unverified" and "self".
        public var reason: String?

        public init(
            node: String, since: String, clients: Int, direction: String?, id: String? = nil, tls: Bool? = nil,
            status: String? = nil, reason: String? = nil
        ) {
            self.reason = reason
            self.id = id
            self.tls = tls
            self.status = status
            self.node = node
            self.since = since
            self.clients = clients
            self.direction = direction
        }
    }

    public var node: String
    public var peers: [Peer]

    public init(node: String, peers: [Peer]) {
        self.node = node
        self.peers = peers
    }
}

/// `GET /api/v1/clients` (operator only).
public struct ClientList: Codable, Sendable, Equatable {
    public struct Client: Codable, Sendable, Equatable {
        public var id: UInt64
        public var remote: String
        /// nil: not authenticated yet, or an observer (see `observer`).
        public var home: String?
        public var observer: Bool
        public var `operator`: Bool
        public var since: String

        public init(id: UInt64, remote: String, home: String?, observer: Bool, operator: Bool, since: String) {
            self.id = id
            self.remote = remote
            self.home = home
            self.observer = observer
            self.operator = `operator`
            self.since = since
        }
    }

    public var node: String
    public var clients: [Client]

    public init(node: String, clients: [Client]) {
        self.node = node
        self.clients = clients
    }
}

/// `POST /api/v1/kick?home=HOST:PORT` (operator only).
/// `POST /api/v1/kick`: who was disconnected (a home's clients, or one client by id), how many, and what was banned.
public struct KickResult: Codable, Sendable, Equatable {
    public var home: String?
    public var client: ClientID?
    public var disconnected: Int
    /// With `ban=SECONDS`: the bans now in force for it.
    public var banned: [BanList.Ban]?

    public init(home: String? = nil, client: ClientID? = nil, disconnected: Int, banned: [BanList.Ban]? = nil) {
        self.home = home
        self.client = client
        self.disconnected = disconnected
        self.banned = banned
    }
}

/// `GET /api/v1/bans`, and the data directory's `bans.json`: the bans in force, soonest to end first.
public struct BanDocument: Codable, Sendable, Equatable {
    public var bans: [BanList.Ban]

    public init(bans: [BanList.Ban]) { self.bans = bans }
}

/// `POST /api/v1/unban`: whether a ban was in force and is now lifted.
public struct UnbanResult: Codable, Sendable, Equatable {
    public var kind: BanList.Kind
    public var target: String
    public var removed: Bool

    public init(kind: BanList.Kind, target: String, removed: Bool) {
        self.kind = kind
        self.target = target
        self.removed = removed
    }
}

/// Every HTTP error: `{"error":{"code":...,"message":...}}` with the matching status.
public struct ErrorDocument: Codable, Sendable, Equatable {
    public struct Detail: Codable, Sendable, Equatable {
        public var code: String
        public var message: String
    }

    public var error: Detail

    public init(code: ErrorCode, message: String) {
        self.error = Detail(code: code.rawValue, message: message)
    }
}
