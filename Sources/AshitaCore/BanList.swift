/// Homes and remote addresses the operator banned, each until a time: a banned address cannot open a WebSocket,
/// a banned home cannot be announced. Bounded, and every entry ends.
public struct BanList: Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// A home (`host:port`) no client may announce.
        case home
        /// A remote address (an IPv6 client counted by its /64, as the connection limits count it) that may not
        /// connect.
        case address
    }

    /// One ban as the API and the file show it.
    public struct Ban: Codable, Sendable, Equatable {
        public var kind: Kind
        public var target: String
        /// RFC 3339, UTC.
        public var until: String

        public init(kind: Kind, target: String, until: String) {
            self.kind = kind
            self.target = target
            self.until = until
        }
    }

    /// Bans held at once, at most: past it, a new one is refused until one ends or is lifted.
    public static let capacity = 1024
    /// The longest ban: a year.
    public static let maxSeconds: Int64 = 366 * 86_400

    private struct Key: Hashable {
        var kind: Kind
        var target: String
    }

    private var until: [Key: Timestamp] = [:]

    public init() {}

    /// The file's bans, those already over dropped; nil when it holds something else or more than `capacity`.
    public init?(bans: [Ban], at now: Timestamp) {
        guard bans.count <= Self.capacity else { return nil }
        for ban in bans {
            guard let end = Timestamp(iso8601: ban.until), Self.isValid(ban.kind, ban.target) else { return nil }
            if now < end { until[Key(kind: ban.kind, target: ban.target)] = end }
        }
    }

    /// The one spelling of a target: a home as `NodeAddress` writes it; an address by what the limits count.
    public static func normalized(_ kind: Kind, _ text: String) -> String? {
        switch kind {
        case .home: (try? NodeAddress(parsing: text))?.description
        case .address:
            // An IPv6 network as the list writes it (`2001:db8::/64`) names the same ban as any address in it.
            if text.hasSuffix("/64") {
                IPAddress(String(text.dropLast(3))).flatMap { $0.isIPv4 ? nil : IPAddress.limitKey($0.description) }
            } else {
                IPAddress(text).map { IPAddress.limitKey($0.description) }
            }
        }
    }

    private static func isValid(_ kind: Kind, _ target: String) -> Bool { normalized(kind, target) == target }

    public func isBanned(_ kind: Kind, _ target: String, at now: Timestamp) -> Bool {
        guard let end = until[Key(kind: kind, target: target)] else { return false }
        return now < end
    }

    public enum AddResult: Equatable, Sendable {
        case added
        /// `capacity` bans are in force.
        case full
    }

    /// Bans `target` (normalized) until `end`; a ban already there is extended or shortened to it.
    public mutating func add(_ kind: Kind, _ target: String, until end: Timestamp, at now: Timestamp) -> AddResult {
        prune(at: now)
        let key = Key(kind: kind, target: target)
        guard until[key] != nil || until.count < Self.capacity else { return .full }
        until[key] = end
        return .added
    }

    /// Lifts a ban; whether there was one in force.
    public mutating func remove(_ kind: Kind, _ target: String, at now: Timestamp) -> Bool {
        prune(at: now)
        return until.removeValue(forKey: Key(kind: kind, target: target)) != nil
    }

    /// The bans in force, soonest to end first.
    public func list(at now: Timestamp) -> [Ban] {
        until.filter { now < $0.value }
            .sorted { ($0.value, $0.key.kind.rawValue, $0.key.target) < ($1.value, $1.key.kind.rawValue, $1.key.target) }
            .map { Ban(kind: $0.key.kind, target: $0.key.target, until: $0.value.iso8601) }
    }

    private mutating func prune(at now: Timestamp) {
        until = until.filter { now < $0.value }
    }
}
