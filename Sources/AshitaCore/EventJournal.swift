#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Something that happened on a node, as `/api/v1/events` streams it.
public struct JournalEntry: Equatable, Sendable {
    /// `BOOT-SEQ`: the boot tells a restarted node's events from the last run's.
    public var id: String
    public var sequence: UInt64
    public var time: Timestamp
    public var type: String
    public var content: JournalContent
    /// One JSON object: `{"content":{...},"id":...,"time":...,"type":...}`, encoded once when the entry is made
    /// (a subscriber asking for the whole journal costs no encoding).
    private let bytes: [UInt8]

    public init(id: String, sequence: UInt64, time: Timestamp, type: String, content: JournalContent) {
        self.id = id
        self.sequence = sequence
        self.time = time
        self.type = type
        self.content = content
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Strings, numbers and booleans always encode.
        self.bytes = Array(try! encoder.encode(Wire(id: id, time: time.iso8601, type: type, content: content)))
    }

    public func encoded() -> [UInt8] { bytes }

    private struct Wire: Encodable {
        var id: String
        var time: String
        var type: String
        var content: JournalContent
    }
}

/// The details of a journal entry; each type fills in the fields that apply.
public struct JournalContent: Codable, Equatable, Sendable {
    public var nodeIp: String?
    public var client: UInt64?
    public var remote: String?
    public var home: String?
    public var code: String?
    public var `operator`: Bool?
    /// The node id found at `nodeIp`, when announcements are verified.
    public var id: String?
    public var message: String?
    /// `clientDisconnected`: the WebSocket close code the node closed the client with (its reason in
    /// `message`); absent when the client left by itself.
    public var closeCode: Int?

    public init(
        nodeIp: String? = nil, client: UInt64? = nil, remote: String? = nil, home: String? = nil,
        code: String? = nil, operator: Bool? = nil, id: String? = nil, message: String? = nil, closeCode: Int? = nil
    ) {
        self.closeCode = closeCode
        self.id = id
        self.message = message
        self.nodeIp = nodeIp
        self.client = client
        self.remote = remote
        self.home = home
        self.code = code
        self.operator = `operator`
    }
}

/// The journal's event types. `/api/v1/events?types=` takes these.
public enum JournalType {
    public static let nodeDiscovered = "nodeDiscovered"
    public static let nodeLeft = "nodeLeft"
    public static let nodeOperatorConnected = "nodeOperatorConnected"
    public static let clientConnected = "clientConnected"
    public static let clientAuthenticated = "clientAuthenticated"
    public static let clientDisconnected = "clientDisconnected"
    public static let protocolError = "protocolError"
    /// A home failed verification: no ashita node answered there.
    public static let nodeUnverified = "nodeUnverified"
    /// The mesh between nodes: a member appeared (or came back), is suspected, was found failed, or left.
    public static let memberJoined = "memberJoined"
    public static let memberSuspected = "memberSuspected"
    public static let memberFailed = "memberFailed"
    public static let memberLeft = "memberLeft"
    public static let all = [
        nodeDiscovered, nodeLeft, nodeOperatorConnected, clientConnected, clientAuthenticated, clientDisconnected,
        protocolError, nodeUnverified, memberJoined, memberSuspected, memberFailed, memberLeft,
    ]
}

/// A bounded ring of the latest entries, so a subscriber that reconnects with `Last-Event-ID` misses nothing
/// that is still held.
public struct EventJournal: Sendable {
    public let boot: String
    public let capacity: Int
    private var ring: [JournalEntry] = []
    private var start = 0
    private var nextSequence: UInt64 = 1

    public init(boot: String, capacity: Int = 1024) {
        precondition(capacity > 0)
        self.boot = boot
        self.capacity = capacity
    }

    public mutating func append(type: String, content: JournalContent, at time: Timestamp) -> JournalEntry {
        let entry = JournalEntry(id: "\(boot)-\(nextSequence)", sequence: nextSequence, time: time, type: type, content: content)
        nextSequence += 1
        if ring.count < capacity {
            ring.append(entry)
        } else {
            ring[start] = entry
            start = (start + 1) % capacity
        }
        return entry
    }

    /// The id of the latest entry (`BOOT-0` before the first): where a new subscriber starts.
    public var position: String { "\(boot)-\(nextSequence - 1)" }

    /// Everything held, oldest first.
    public var entries: [JournalEntry] { Array(ring[start...] + ring[..<start]) }

    /// What a subscriber resuming after `lastEventID` has not seen, and whether some of it is gone already.
    /// No id: nothing (a new subscriber gets live events only). An id from another boot (the node restarted) or
    /// any other id, such as `0`, resumes from the oldest entry held.
    public func entries(after lastEventID: String?) -> (entries: [JournalEntry], missed: Bool) {
        guard let lastEventID else { return ([], false) }
        let all = entries
        let parts = lastEventID.split(separator: "-")
        guard parts.count == 2, String(parts[0]) == boot, let seen = UInt64(parts[1]) else {
            // Everything this run holds is new to it; it missed something only if this run dropped entries.
            return (all, (all.first?.sequence ?? 1) > 1)
        }
        // Sequences start at 1, so `sequence - 1` cannot overflow where `seen + 1` would (a client's id is
        // any number it likes).
        let missed = (all.first.map { $0.sequence - 1 > seen }) ?? false
        return (all.filter { $0.sequence > seen }, missed)
    }
}
