/// One link to another node, as the edge names it: the same peer may be reached over two links for a moment.
public typealias LinkID = UInt64

/// Why this node closes a link.
public enum LinkCloseReason: String, Sendable, Equatable {
    /// This node has `maxLinks` links already.
    case full
    /// The two nodes are linked already; the link dialled by the smaller id stays.
    case duplicate
    /// Room made for an isolated node: the peer should link elsewhere, nothing failed.
    case shed
    /// The peer is failed or has left.
    case gone
    /// This node is leaving the mesh.
    case leaving
    /// The link's other end is not who it says, or broke the rules too often.
    case refused
}

/// What the membership asks the edge to do.
public enum MembershipEffect: Equatable, Sendable {
    /// Open a link to this address; report `linkUp`, or `dialFailed`.
    case dial(NodeAddress)
    /// One message, encoded once, to each of these linked members.
    case send(LinkMessage, to: [String])
    /// A message on one link that is about to close (the members it names when it refuses a dialler for lack of
    /// room, so the dialler links elsewhere).
    case sendOnLink(LinkMessage, LinkID)
    case closeLink(LinkID, LinkCloseReason)
    /// A member was added or changed state: the edge tells its clients (`nodeDiscovered`, `nodeLeft`) and watchers.
    case memberChanged(MemberRecord, previous: MemberState?)
}

/// What the membership counted: every dropped message has a reason here.
public struct MembershipCounters: Sendable, Equatable {
    public var malformed = 0
    public var badSignature = 0
    public var rateLimited = 0
    /// Records that told nothing new: duplicates of what gossip already brought, or older.
    public var stale = 0
    /// Claims about members or by claimers this node does not know.
    public var unknown = 0
    /// Newcomers not recorded because the member table was full.
    public var tableFull = 0
    public var errorsReceived = 0
    public var refutations = 0
    /// Dials not made (yet) because the dial rate was spent.
    public var dialsDeferred = 0

    public init() {}
}

/// One member as the node reports it.
public struct MemberSnapshot: Sendable, Equatable {
    public var record: MemberRecord
    public var linked: Bool
    public var lastHeard: Timestamp?
    public var changed: Timestamp
}

/// The mesh's membership and overlay from one node's point of view: who the members are and in what state, which
/// of them this node links to, and when to ping, suspect and fail them — SWIM with incarnations and refutation,
/// Lifeguard's local health and dynamic suspicion, a HyParView-like bounded set of links. Pure: the clock, the
/// randomness (a seed) and the signing are given in; what should happen comes out as effects.
public struct Membership: Sendable {
    public let configuration: MembershipConfiguration
    public let id: String
    let signing: any MemberSigning
    var random: SeededRandom
    var table: [String: MemberEntry] = [:]
    var links: [String: LinkState] = [:]
    /// Dials under way, and when each is given up.
    var dialing: [NodeAddress: Timestamp] = [:]
    /// Addresses to dial while the node has no links: `join` targets and remembered members.
    var seeds: [NodeAddress] = []
    var suspicions: [String: Suspicion] = [:]
    var probe: Probe?
    var probeRound: [String] = []
    var relays: [UInt64: Relay] = [:]
    var nextSeq: UInt64 = 1
    /// Lifeguard's local health: 0 when this node keeps up, higher when its own answers come late.
    public internal(set) var localHealth = 0
    var lastTick: Timestamp
    var nextProbe: Timestamp
    var nextRefresh: Timestamp
    var nextRetry: Timestamp
    /// When a full node may next drop a link to take one with a member it holds failed (split halves meeting).
    var nextRejoinRoom: Timestamp
    var nextSync: Timestamp
    var dialBucket: TokenBucket
    /// What the last `nextWake` asked for; nil for a caller that ticks at a fixed rate.
    var requestedWake: Timestamp?
    var outbox: [Outgoing] = []
    /// Where each member's latest record waits in `outbox`.
    var queued: [String: Int] = [:]
    public internal(set) var counters = MembershipCounters()
    public internal(set) var hasLeft = false

    struct MemberEntry: Sendable {
        var record: MemberRecord
        var changed: Timestamp
        var lastHeard: Timestamp?
    }

    struct LinkState: Sendable {
        var link: LinkID
        var dialer: String
        var bucket: TokenBucket
        var lastHeard: Timestamp
        var warnedRate = false
        /// When this node last offered its table on the link (its `have`, or the whole table when too big to list),
        /// and whether that offer listed every member (then the neighbour needs no list in reply).
        var offered: Timestamp?
        var offeredList = false
        /// The `have`s answered on the link in the current half sync interval, so a neighbour cannot make this node
        /// send its table nonstop.
        var answeredSince: Timestamp?
        var answered = 0
        /// When the transport under the link last showed data that TCP had to resend and that is still
        /// unacknowledged (`linkDoubtful`): a ping asked of this node through it would wait behind that data.
        var doubted: Timestamp?
    }

    struct Suspicion: Sendable {
        var incarnation: UInt64
        var since: Timestamp
        var claimers: Set<String>
        /// The strongest evidence any claimer gave: it decides how long the suspicion lasts.
        var evidence: SuspicionEvidence
    }

    struct Probe: Sendable {
        var target: String
        var seq: UInt64
        var started: Timestamp
        var deadline: Timestamp
        var helpers = 0
        var nacks = 0
        var indirect = false
        /// Started because the transport to the target stalled: a failure then claims `unreachable`.
        var unreachable = false

        /// A stalled member's check ends once every neighbour asked said it cannot reach the member either: this
        /// node's own path has shown that it does not answer already.
        var answeredByAllHelpers: Bool { unreachable && indirect && helpers > 0 && nacks >= helpers }
    }

    struct Relay: Sendable {
        var asker: String
        var askerSeq: UInt64
        var target: String
        var deadline: Timestamp
    }

    struct Outgoing: Sendable {
        var record: MemberRecord
        var hops: Int
        /// Neighbours known to hold the record: the one it came from, and any that sent it again before it went.
        var holders: Set<String>
    }

    /// A node's membership at start. `incarnation` should exceed any this node used before (the wall clock's
    /// milliseconds do), so that what others remember of an earlier run never outranks this one.
    public init(
        configuration: MembershipConfiguration, address: NodeAddress, signing: any MemberSigning, incarnation: UInt64,
        seed: UInt64, at now: Timestamp
    ) {
        self.configuration = configuration
        self.signing = signing
        self.id = signing.id(ofKey: signing.publicKey)
        self.random = SeededRandom(seed: seed)
        self.lastTick = now
        self.nextProbe = now
        self.nextRefresh = now.adding(configuration.linkRefresh)
        self.nextRetry = now
        self.nextRejoinRoom = now
        self.nextSync = now.adding(configuration.syncInterval)
        self.dialBucket = TokenBucket(rate: configuration.dialRate, burst: configuration.dialBurst, at: now)
        let own = signed(
            MemberRecord(id: id, key: signing.publicKey, address: address, incarnation: incarnation, state: .alive, signer: id))
        table[id] = MemberEntry(record: own, changed: now)
    }

    // MARK: Queries

    public var ownRecord: MemberRecord { table[id]!.record }

    /// Every member this node knows, itself included, by id.
    public var members: [MemberSnapshot] {
        table.keys.sorted().map { key in
            let entry = table[key]!
            return MemberSnapshot(record: entry.record, linked: links[key] != nil, lastHeard: entry.lastHeard, changed: entry.changed)
        }
    }

    public func member(_ id: String) -> MemberRecord? { table[id]?.record }
    public var linkedPeers: [String] { links.keys.sorted() }
    public func link(to peer: String) -> LinkID? { links[peer]?.link }

    /// The number of members and an order-free digest of who is in which state at which incarnation: two nodes
    /// with the same view have the same summary.
    public var summary: (count: Int, digest: UInt64) {
        var digest: UInt64 = 0
        for entry in table.values {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in entry.record.id.utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
            h = (h ^ entry.record.incarnation) &* 0x100_0000_01b3
            h = (h ^ UInt64(entry.record.state.rank)) &* 0x100_0000_01b3
            digest ^= h
        }
        return (table.count, digest)
    }

    // MARK: Records

    func signed(_ record: MemberRecord) -> MemberRecord {
        var record = record
        record.signature = signing.sign(record.signedBytes)
        return record
    }

    /// Checks a record's signer and signature. Claims must come from members this node knows.
    func isAuthentic(_ record: MemberRecord) -> Bool {
        guard record.hasRightfulSigner, signing.id(ofKey: record.key) == record.id else { return false }
        let signerKey = record.signer == record.id ? record.key : table[record.signer]?.record.key
        guard let signerKey else { return false }
        return signing.isValid(record.signature, of: record.signedBytes, key: signerKey)
    }

    enum Learned { case new, stale, unknown, forged }

    /// Takes in a record from a link (or made here). Returns whether it was news; news is passed on. `checked`: the
    /// record's signature was checked already (a `ProvenRecord`).
    @discardableResult
    mutating func learn(
        _ record: MemberRecord, from peer: String?, hops: Int, checked: Bool = false, at now: Timestamp, effects: inout [MembershipEffect]
    ) -> Learned {
        // What would tell nothing new is dropped before its signature is checked: flooding brings most records
        // more than once, and a check costs more than the rest of the step.
        let current = table[record.id]
        var confirmation = false
        if record.id != id, let current {
            if !record.supersedes(current.record) {
                // Another claimer confirms; a claimer already counted counts again only with stronger evidence.
                guard record.state == .suspect, current.record.state == .suspect, record.incarnation == current.record.incarnation,
                    let suspicion = suspicions[record.id],
                    !suspicion.claimers.contains(record.signer) || Self.stronger(record.evidence, than: suspicion.evidence)
                else {
                    counters.stale += 1
                    // The same record from another neighbour before this node passed it on: that one holds it.
                    if let peer, let waiting = queued[record.id], outbox[waiting].record == record { outbox[waiting].holders.insert(peer) }
                    return .stale
                }
                confirmation = true
            } else if record.state == .failed, current.record.state == .alive, let suspicion = suspicions[record.id],
                suspicion.incarnation == record.incarnation, suspicion.claimers.contains(record.signer)
            {
                counters.stale += 1
                return .stale
            }
        } else if record.id != id, record.state != .alive {
            counters.unknown += 1
            return .unknown
        }
        if record.signer != record.id, table[record.signer] == nil {
            counters.unknown += 1
            return .unknown
        }
        guard checked || isAuthentic(record) else {
            counters.badSignature += 1
            return .forged
        }
        if record.id == id { return learnAboutMe(record, at: now) }
        guard let current else {
            guard makeRoom(at: now, effects: &effects) else {
                counters.tableFull += 1
                return .unknown
            }
            table[record.id] = MemberEntry(record: record, changed: now)
            effects.append(.memberChanged(record, previous: nil))
            forward(record, hops: hops, except: peer)
            return .new
        }
        if confirmation {
            // Another accuser: the suspicion ends sooner, and others hear of the confirmation while it matters.
            suspect(record.id, incarnation: record.incarnation, by: record.signer, evidence: record.evidence, at: now)
            if suspicions[record.id]!.claimers.count <= configuration.expectedConfirmations + 1 {
                forward(record, hops: hops, except: peer)
            }
            return .new
        }
        if record.state == .failed, current.record.state == .alive {
            // A failure claim about a member this node holds alive weighs as a suspicion: this node gives the
            // member its own time to refute, and passes the claim on so the member hears of it.
            suspect(record.id, incarnation: record.incarnation, by: record.signer, evidence: nil, at: now)
            forward(record, hops: hops, except: peer)
            return .new
        }
        replace(record, at: now, effects: &effects)
        forward(record, hops: hops, except: peer)
        return .new
    }

    /// Stores a record that supersedes the one held, and does what its state asks.
    mutating func replace(_ record: MemberRecord, at now: Timestamp, effects: inout [MembershipEffect]) {
        let previous = table[record.id]?.record.state
        table[record.id] = MemberEntry(record: record, changed: now, lastHeard: table[record.id]?.lastHeard)
        switch record.state {
        case .alive:
            suspicions[record.id] = nil
        case .suspect:
            suspect(record.id, incarnation: record.incarnation, by: record.signer, evidence: record.evidence, at: now)
        case .failed, .left:
            suspicions[record.id] = nil
            if let link = links[record.id] {
                links[record.id] = nil
                effects.append(.closeLink(link.link, .gone))
            }
        }
        if previous != record.state { effects.append(.memberChanged(record, previous: previous)) }
    }

    mutating func suspect(_ member: String, incarnation: UInt64, by claimer: String, evidence: SuspicionEvidence?, at now: Timestamp) {
        let evidence = evidence ?? .silent
        if var suspicion = suspicions[member], suspicion.incarnation == incarnation {
            suspicion.claimers.insert(claimer)
            if Self.stronger(evidence, than: suspicion.evidence) { suspicion.evidence = evidence }
            suspicions[member] = suspicion
        } else {
            suspicions[member] = Suspicion(incarnation: incarnation, since: now, claimers: [claimer], evidence: evidence)
        }
    }

    /// Whether `evidence` shortens a suspicion held on `held`: silent < unreachable < refused.
    static func stronger(_ evidence: SuspicionEvidence?, than held: SuspicionEvidence) -> Bool {
        func rank(_ evidence: SuspicionEvidence?) -> Int {
            switch evidence {
            case .refused: 2
            case .unreachable: 1
            case .silent, nil: 0
            }
        }
        return rank(evidence) > rank(held)
    }

    /// Someone said something about this node: an earlier run's record, or a suspicion or failure it can refute.
    mutating func learnAboutMe(_ record: MemberRecord, at now: Timestamp) -> Learned {
        let own = ownRecord
        let outdated = record.incarnation > own.incarnation || (record.incarnation == own.incarnation && record.state != .alive)
        guard outdated, !hasLeft else {
            counters.stale += 1
            return .stale
        }
        counters.refutations += 1
        // Being suspected is a hint that this node answers late (Lifeguard).
        if record.state == .suspect || record.state == .failed { localHealth = min(configuration.maxLocalHealth, localHealth + 1) }
        var refuted = own
        refuted.incarnation = max(own.incarnation, record.incarnation) + 1
        refuted = signed(refuted)
        table[id] = MemberEntry(record: refuted, changed: now)
        forward(refuted, hops: 0, except: nil)
        return .new
    }

    /// Frees a place in a full table: the failed or left member that changed longest ago goes.
    mutating func makeRoom(at now: Timestamp, effects: inout [MembershipEffect]) -> Bool {
        guard table.count >= configuration.maxMembers else { return true }
        let gone = table.values.filter { $0.record.state == .failed || $0.record.state == .left }
        guard let oldest = gone.min(by: { ($0.changed, $0.record.id) < ($1.changed, $1.record.id) }) else { return false }
        table[oldest.record.id] = nil
        return true
    }

    mutating func forward(_ record: MemberRecord, hops: Int, except: String?) {
        guard hops < LinkMessage.maxHops else { return }
        queued[record.id] = outbox.count
        outbox.append(Outgoing(record: record, hops: hops + 1, holders: except.map { [$0] } ?? []))
    }

    /// Sends what was learnt since the last tick: each neighbour gets, in one message, the records it is not known
    /// to hold (not those it sent this node meanwhile, nor its own `alive` or `left`); neighbours due the same
    /// records share one message, encoded once.
    mutating func flush(_ effects: inout [MembershipEffect]) {
        guard !outbox.isEmpty else { return }
        var recipients: [[Int]: [String]] = [:]
        var order: [[Int]] = []
        for peer in links.keys.sorted() {
            let due = outbox.indices.filter { index in
                let item = outbox[index]
                return !item.holders.contains(peer) && !(item.record.id == peer && item.record.signer == peer)
            }
            guard !due.isEmpty else { continue }
            if recipients[due] == nil { order.append(due) }
            recipients[due, default: []].append(peer)
        }
        for due in order {
            for chunk in chunks(due.map { outbox[$0] }) {
                effects.append(.send(.gossip(hops: chunk.map(\.hops).max()!, records: chunk.map(\.record)), to: recipients[due]!))
            }
        }
        outbox.removeAll()
        queued.removeAll()
    }

    /// This node leaves: it tells its links, signed, and closes them.
    public mutating func leave(at now: Timestamp) -> [MembershipEffect] {
        guard !hasLeft else { return [] }
        hasLeft = true
        var left = ownRecord
        left.state = .left
        left = signed(left)
        table[id] = MemberEntry(record: left, changed: now)
        var effects: [MembershipEffect] = []
        let peers = links.keys.sorted()
        if !peers.isEmpty { effects.append(.send(.gossip(hops: 1, records: [left]), to: peers)) }
        for peer in peers { effects.append(.closeLink(links[peer]!.link, .leaving)) }
        links.removeAll()
        outbox.removeAll()
        queued.removeAll()
        return effects
    }

    func randomElement<T>(_ items: [T]) -> (T, SeededRandom)? {
        guard !items.isEmpty else { return nil }
        var random = random
        let item = items[Int(random.next() % UInt64(items.count))]
        return (item, random)
    }

    mutating func pick<T>(_ items: [T]) -> T? {
        guard let (item, next) = randomElement(items) else { return nil }
        random = next
        return item
    }

    mutating func jittered(_ duration: Duration) -> Int64 {
        let ms = max(1, duration.wholeMilliseconds)
        return ms / 2 + Int64(random.next() % UInt64(ms))
    }
}
