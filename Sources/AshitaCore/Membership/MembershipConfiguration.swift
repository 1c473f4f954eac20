/// The membership's bounds and timings, declared once: `serve`'s flags default to these.
public struct MembershipConfiguration: Sendable, Equatable {
    /// How often the node runs its timers and passes on what it learnt, in one message per link: each hop of a
    /// change across the mesh waits up to this long.
    public var gossipInterval: Duration = .milliseconds(20)
    /// Links to other nodes at most (A→B and B→A count once).
    public var maxLinks = 8
    /// Below this many links the node dials more at once; between this and `maxLinks` it adds one now and then.
    public var minLinks: Int { max(1, (maxLinks + 1) / 2) }
    /// Members remembered at most, this node included. When full, a newcomer takes a failed or left member's place
    /// or is not recorded.
    public var maxMembers = 1024
    /// How often one linked neighbour is pinged, and how long its answer may take before others are asked to try.
    public var probeInterval: Duration = .milliseconds(500)
    public var probeTimeout: Duration = .milliseconds(500)
    /// Neighbours asked to ping a member that did not answer.
    public var indirectChecks = 3
    /// How long a silent member stays suspect before it is failed: the longest with one accuser, down to the
    /// shortest once `expectedConfirmations` others agree (Lifeguard's dynamic suspicion).
    public var suspicionMin: Duration = .seconds(3)
    public var suspicionMax: Duration = .seconds(15)
    public var expectedConfirmations = 3
    /// How long a member whose address refuses connections stays suspect: time enough to refute a false claim.
    public var refusedSuspicion: Duration = .milliseconds(300)
    /// How long a member stays suspect when a claimer's transport to it stalled (evidence `unreachable`), with one
    /// claimer; down to `refusedSuspicion` with `expectedConfirmations` more.
    public var unreachableSuspicion: Duration = .milliseconds(600)
    /// How far this node's own timeouts stretch when it notices it is slow (Lifeguard's local health).
    public var maxLocalHealth = 8
    /// A dial not answered by then has failed.
    public var dialTimeout: Duration = .seconds(2)
    /// How often a node with fewer than `maxLinks` links adds one.
    public var linkRefresh: Duration = .seconds(5)
    /// How often a failed member (or a join address, while the node has no links) is dialled again, so that the
    /// halves of a split mesh find each other; and how long failed and left members are remembered.
    public var retryInterval: Duration = .seconds(2)
    public var rememberFailed: Duration = .seconds(600)
    /// How often a node compares its table with one neighbour's (a summary; when they differ, `have` lists and the
    /// records one end lacks), which repairs what flooding missed while links came and went. Half of it is the
    /// least time between two offers of a table on one link.
    public var syncInterval: Duration = .seconds(2)
    /// Messages a second one link may send, on average and at once; more are dropped and answered `error`.
    public var messageRate = 500
    public var messageBurst = 2000
    /// New dials a second, on average and at once: whatever the mesh tells this node of (a member's address is
    /// whatever that member signed), it connects to other hosts no faster than this.
    public var dialRate = 4
    public var dialBurst = 8
    /// Link greetings one IP address may start a second, on average and at once: each costs this node a
    /// signature and a check of one, so more are closed (1013) before anything is signed. At once, a whole
    /// cluster restarting behind one address (or on one machine) links without waiting.
    public var greetingRate = 50
    public var greetingBurst = 100
    /// Link greetings all addresses together may start a second, on average and at once: many addresses (an IPv6
    /// prefix has plenty) cannot add up to more signing than this.
    public var greetingRateAll = 200
    public var greetingBurstAll = 400
    /// Pings this node relays for others at once.
    public var maxRelays = 64

    public init() {}
}

extension Duration {
    /// Whole milliseconds, rounded down, for the millisecond `Timestamp`.
    public var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

extension Timestamp {
    public func adding(_ duration: Duration) -> Timestamp { adding(milliseconds: duration.wholeMilliseconds) }
}

/// A small seeded generator (SplitMix64): the rules take their randomness from it, so one seed gives one trace.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
