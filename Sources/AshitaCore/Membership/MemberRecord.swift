/// What the mesh believes about one member node.
public enum MemberState: String, Sendable, Equatable, CaseIterable {
    case alive, suspect, failed, left

    /// At one incarnation, a later state overrides an earlier one: alive < suspect < failed < left.
    var rank: Int {
        switch self {
        case .alive: 0
        case .suspect: 1
        case .failed: 2
        case .left: 3
        }
    }
}

/// Why a member is suspected: its links went silent; the claimer's link to it is unreachable (its TCP resent data
/// that is still unacknowledged, nothing came back for a probe timeout, and no neighbour reached it either: the
/// path is cut or the host gone, which a live but slow process never causes, since its kernel still
/// acknowledges); or a dial to it was refused (nobody listens there any more: a live node, however slow, never
/// causes that either).
public enum SuspicionEvidence: String, Sendable, Equatable {
    case silent, unreachable, refused
}

/// One signed statement about a member. A member signs its own state (alive at incarnation N, left); anyone may
/// claim another member suspect or failed, signing the claim as its own, and the claim names the incarnation it
/// is about, which must be the one the mesh knows (so a claim can neither be replayed against a newer incarnation
/// nor push the member's counter out of reach).
public struct MemberRecord: Equatable, Sendable {
    /// The member's id: derived from `key`.
    public var id: String
    /// The member's Ed25519 public key (32 bytes).
    public var key: [UInt8]
    public var address: NodeAddress
    public var incarnation: UInt64
    public var state: MemberState
    /// For a suspicion: what the claimer saw.
    public var evidence: SuspicionEvidence?
    /// Who signed: the member itself for alive and left, the claimer for suspect and failed.
    public var signer: String
    public var signature: [UInt8]

    public init(
        id: String, key: [UInt8], address: NodeAddress, incarnation: UInt64, state: MemberState,
        evidence: SuspicionEvidence? = nil, signer: String, signature: [UInt8] = []
    ) {
        self.id = id
        self.key = key
        self.address = address
        self.incarnation = incarnation
        self.state = state
        self.evidence = evidence
        self.signer = signer
        self.signature = signature
    }

    /// What the signature covers: every field but the signature, after a prefix that makes it mean nothing
    /// elsewhere (a challenge answer can never pass for a record, nor a record for a challenge answer).
    public var signedBytes: [UInt8] {
        Array(
            "ashita-member\n\(id)\n\(Hex.encode(key))\n\(address)\n\(incarnation)\n\(state.rawValue)\n\(evidence?.rawValue ?? "")\n\(signer)"
                .utf8)
    }

    /// Whether this signer may make this statement at all: only the member says it is alive or has left; only
    /// another member says it is suspect or failed.
    public var hasRightfulSigner: Bool {
        switch state {
        case .alive, .left: signer == id && evidence == nil
        case .suspect: signer != id && evidence != nil
        case .failed: signer != id && evidence == nil
        }
    }

    /// Whether this record replaces `current`, the record held about the same member. A member's own record wins
    /// with a higher incarnation; at the same incarnation the later state wins (a claim must name the current
    /// incarnation to count at all). `left` is final for its incarnation.
    public func supersedes(_ current: MemberRecord) -> Bool { MemberDigest(self).isNewer(than: MemberDigest(current)) }
}

/// What a `have` message says of one member: enough to tell which of two records is newer, not the record.
public struct MemberDigest: Equatable, Sendable {
    public var id: String
    public var incarnation: UInt64
    public var state: MemberState

    public init(id: String, incarnation: UInt64, state: MemberState) {
        self.id = id
        self.incarnation = incarnation
        self.state = state
    }

    public init(_ record: MemberRecord) { self.init(id: record.id, incarnation: record.incarnation, state: record.state) }

    /// Whether a record this new replaces one like `other` (`MemberRecord.supersedes`): the member's own alive or
    /// left at a higher incarnation, or a later state at the same one.
    public func isNewer(than other: MemberDigest) -> Bool {
        // Only the member moves its own incarnation on; a claim about another incarnation is stale or made up.
        incarnation != other.incarnation
            ? incarnation > other.incarnation && (state == .alive || state == .left) : state.rank > other.state.rank
    }
}

/// Signing and checking records, given in: the node uses Ed25519 keys, the simulator a cheap stand-in, and the
/// rules stay pure.
public protocol MemberSigning: Sendable {
    /// This node's public key.
    var publicKey: [UInt8] { get }
    /// This node's signature of `bytes`.
    func sign(_ bytes: [UInt8]) -> [UInt8]
    /// Whether `signature` of `bytes` was made with the private half of `key`.
    func isValid(_ signature: [UInt8], of bytes: [UInt8], key: [UInt8]) -> Bool
    /// The member id that belongs to `key`.
    func id(ofKey key: [UInt8]) -> String
}
