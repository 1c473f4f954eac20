/// One server-sent event as the `text/event-stream` format defines it.
public struct ServerSentEvent: Equatable, Sendable {
    public var id: String?
    public var event: String?
    public var data: String
}

/// Turns a `text/event-stream` byte stream, in chunks of any size, into events and comments. A line or an
/// event larger than its bound is an error, not a buffer that grows for as long as a server keeps sending.
public struct ServerSentEventParser: Sendable {
    /// Longest line read (an ashita event is about 300 bytes).
    public static let maxLineBytes = 64 * 1024
    /// Largest event read (all its data lines together).
    public static let maxEventBytes = 256 * 1024

    public enum Overflow: Error, Equatable, Sendable, CustomStringConvertible {
        case line
        case event

        public var description: String {
            switch self {
            case .line: "sent a line over \(ServerSentEventParser.maxLineBytes / 1024) KiB"
            case .event: "sent an event over \(ServerSentEventParser.maxEventBytes / 1024) KiB"
            }
        }
    }

    public enum Item: Equatable, Sendable {
        case event(ServerSentEvent)
        case comment(String)
        /// An `id:` with no data: the stream's position, to resume from.
        case position(String)
    }

    private var pending: [UInt8] = []
    private var id: String?
    private var event: String?
    private var data: [String] = []
    private var dataBytes = 0
    private var sawCR = false
    private var idInBlock = false

    public init() {}

    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(Overflow) -> [Item] {
        var items: [Item] = []
        for byte in bytes {
            if sawCR {
                sawCR = false
                if byte == 0x0A { continue }
            }
            switch byte {
            case 0x0A, 0x0D:
                sawCR = byte == 0x0D
                if let item = try line(String(decoding: pending, as: UTF8.self)) { items.append(item) }
                pending.removeAll(keepingCapacity: true)
            default:
                guard pending.count < Self.maxLineBytes else { throw .line }
                pending.append(byte)
            }
        }
        return items
    }

    private mutating func line(_ line: String) throws(Overflow) -> Item? {
        if line.isEmpty {
            defer { event = nil; data = []; dataBytes = 0; idInBlock = false }
            guard !data.isEmpty else { return idInBlock ? id.map(Item.position) : nil }
            return .event(ServerSentEvent(id: id, event: event, data: data.joined(separator: "\n")))
        }
        if line.hasPrefix(":") { return .comment(String(line.dropFirst()).trimmingLeadingSpace()) }
        let (field, value): (Substring, String)
        if let colon = line.firstIndex(of: ":") {
            field = line[..<colon]
            value = String(line[line.index(after: colon)...]).trimmingLeadingSpace()
        } else {
            (field, value) = (line[...], "")
        }
        switch field {
        case "id":
            id = value
            idInBlock = true
        case "event": event = value
        case "data":
            dataBytes += value.utf8.count + 1
            guard dataBytes <= Self.maxEventBytes else { throw .event }
            data.append(value)
        default: break
        }
        return nil
    }
}

extension String {
    fileprivate func trimmingLeadingSpace() -> String { hasPrefix(" ") ? String(dropFirst()) : self }
}
