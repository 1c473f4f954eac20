/// Where a reader of a node's event stream is: the last event it took, so a reconnect resumes after it (with
/// `Last-Event-ID`) and no event is taken twice, across reconnects and node restarts. Pure: it says what to
/// tell the user, it prints nothing.
public struct EventStreamPosition: Sendable, Equatable {
    /// What to send as `Last-Event-ID` on the next connection; nil before anything is known.
    public private(set) var lastID: String?
    private var boot: Substring?
    private var sequence: UInt64 = 0
    public private(set) var taken = 0
    /// Whether any connection has succeeded yet (the first failure is fatal, later ones are retried).
    public private(set) var everConnected = false
    private var connectedNow = false

    /// `replay`: start from everything the node still holds.
    public init(replay: Bool = false) {
        if replay { lastID = "0" }
    }

    public enum Notice: Equatable, Sendable {
        case reconnected
        case restarted
    }

    /// The first item of a connection: says so after an outage. Returns true on the first item of each connection.
    public mutating func connected() -> (first: Bool, notice: Notice?) {
        guard !connectedNow else { return (false, nil) }
        defer {
            everConnected = true
            connectedNow = true
        }
        return (true, everConnected ? .reconnected : nil)
    }

    /// The connection ended.
    public mutating func disconnected() { connectedNow = false }

    /// Where a stream starts when it was opened without an id (the node sends its position only then): a
    /// reconnect resumes from here even if nothing was taken yet.
    public mutating func start(at id: String) {
        guard lastID == nil else { return }
        lastID = id
        (boot, sequence) = Self.split(id)
    }

    /// Whether an event with `id` is new (and takes it), and whether it shows the node restarted.
    public mutating func take(_ id: String?) -> (isNew: Bool, notice: Notice?) {
        guard let id else {
            taken += 1
            return (true, nil)
        }
        let (eventBoot, eventSequence) = Self.split(id)
        if eventBoot == boot && eventSequence <= sequence { return (false, nil) }
        let restarted = boot != nil && eventBoot != boot
        (boot, sequence, lastID) = (eventBoot, eventSequence, id)
        taken += 1
        return (true, restarted ? .restarted : nil)
    }

    static func split(_ id: String) -> (Substring, UInt64) {
        let parts = id.split(separator: "-")
        return (parts.first ?? "", parts.count == 2 ? UInt64(parts[1]) ?? 0 : 0)
    }
}
