/// A node's address as others reach it: `host:port`, where host is a DNS name, an IPv4 address or
/// a bracketed IPv6 address, and port is 1–65535. At most 255 bytes.
///
/// This is the only thing a client sends that ever reaches another client, so it is checked strictly.
public struct NodeAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let host: String
    public let port: Int

    /// `host:port`, with the host lowercased and IPv6 in brackets.
    public var description: String { "\(host):\(port)" }

    /// The host without IPv6 brackets, as a socket API wants it.
    public var bareHost: String {
        host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
    }

    public static let maxLength = 255

    public init(host: String, port: Int) throws(AddressError) {
        self = try NodeAddress(parsing: host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)")
    }

    public init(parsing text: String) throws(AddressError) {
        guard !text.isEmpty else { throw .empty }
        guard text.utf8.count <= Self.maxLength else { throw .tooLong(text.utf8.count) }
        guard let colon = text.utf8.lastIndex(of: UInt8(ascii: ":")) else { throw .missingPort(text) }
        let hostPart = String(text[..<colon])
        let portPart = String(text[text.index(after: colon)...])
        guard let port = Self.parsePort(portPart) else { throw .badPort(text) }
        if hostPart.hasPrefix("[") {
            guard hostPart.hasSuffix("]"), Self.isIPv6(hostPart.dropFirst().dropLast()) else { throw .badHost(text) }
        } else if !Self.isIPv4(hostPart) && !Self.isDNSName(hostPart) {
            throw .badHost(text)
        }
        self.host = hostPart.lowercased()
        self.port = port
    }

    public static func < (a: NodeAddress, b: NodeAddress) -> Bool { (a.host, a.port) < (b.host, b.port) }

    private static func parsePort(_ s: String) -> Int? {
        guard (1...5).contains(s.utf8.count), s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let n = Int(s), (1...65535).contains(n)
        else { return nil }
        return n
    }

    private static func isIPv4(_ s: String) -> Bool {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            (1...3).contains(part.utf8.count) && part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })
                && Int(part)! <= 255 && !(part.utf8.count > 1 && part.hasPrefix("0"))
        }
    }

    /// RFC 1123 host name: dot-separated labels of letters, digits and hyphens, 1–63 bytes each,
    /// not starting or ending with a hyphen; not all digits (that would be a malformed IPv4).
    private static func isDNSName(_ s: String) -> Bool {
        var name = Substring(s)
        if name.hasSuffix(".") { name = name.dropLast() }
        guard (1...253).contains(name.utf8.count) else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        let wellFormed = labels.allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { c in
                    (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x2D
                }
        }
        let allNumeric = name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E }
        return wellFormed && !allNumeric
    }

    /// Hex groups separated by colons, at most one `::`, optionally ending in a dotted IPv4 address.
    private static func isIPv6(_ s: Substring) -> Bool {
        guard (2...45).contains(s.utf8.count) else { return false }
        let compressed = s.components(separatedBy: "::")
        guard compressed.count <= 2 else { return false }
        var groups = s.split(separator: ":", omittingEmptySubsequences: true)
        var groupBudget = 8
        if let last = groups.last, last.contains(".") {
            guard isIPv4(String(last)) else { return false }
            groups.removeLast()
            groupBudget = 6
        }
        let hexGroups = groups.allSatisfy { g in
            (1...4).contains(g.utf8.count) && g.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46)
            }
        }
        guard hexGroups else { return false }
        // Stray single colons at either end are malformed ("1:2::3:" or ":1::2").
        if (s.hasPrefix(":") && !s.hasPrefix("::")) || (s.hasSuffix(":") && !s.hasSuffix("::")) { return false }
        return compressed.count == 2 ? groups.count < groupBudget : groups.count == groupBudget
    }
}

extension Substring {
    fileprivate func components(separatedBy separator: String) -> [Substring] {
        var parts: [Substring] = []
        var rest = self[...]
        while let range = rest.firstRange(of: separator) {
            parts.append(rest[..<range.lowerBound])
            rest = rest[range.upperBound...]
        }
        parts.append(rest)
        return parts
    }
}

public enum AddressError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case tooLong(Int)
    case missingPort(String)
    case badPort(String)
    case badHost(String)

    public var description: String {
        switch self {
        case .empty: "node must be host:port, got an empty string"
        case .tooLong(let n): "node must be host:port of at most \(NodeAddress.maxLength) bytes, got \(n) bytes"
        case .missingPort(let s): "node must be host:port, got \(quoted(s)) (no port)"
        case .badPort(let s): "node must be host:port with a port from 1 to 65535, got \(quoted(s))"
        case .badHost(let s): "node must be host:port with a DNS name, IPv4 or [IPv6] host, got \(quoted(s))"
        }
    }
}

/// Shows untrusted text in a message: at most 64 characters, control characters escaped.
public func quoted(_ text: String, limit: Int = 64) -> String {
    var out = "\""
    for (i, scalar) in text.unicodeScalars.enumerated() {
        if i == limit { out += "…"; break }
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F: out += "\\u{\(String(scalar.value, radix: 16))}"
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
