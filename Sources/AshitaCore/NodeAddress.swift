/// A node's address as others reach it: `host:port`, where host is a DNS name, an IPv4 address or
/// a bracketed IPv6 address, and port is 1–65535. At most 255 bytes.
///
/// This is the only thing a client sends that ever reaches another client, so it is checked strictly, and it
/// has one spelling per host and port: names in lower case without a trailing dot, IPv4 as a dotted quad, IPv6
/// as RFC 5952 writes it (an IPv4-mapped IPv6 address as the IPv4 address). Numeric forms other than those
/// (`0x7f.1`, `127.1`, `2130706433`) are refused rather than left for a resolver to interpret.
public struct NodeAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let host: String
    public let port: Int

    /// `host:port`, with the host in its canonical spelling and IPv6 in brackets.
    public var description: String { "\(host):\(port)" }

    /// The host without IPv6 brackets, as a socket API wants it.
    public var bareHost: String {
        host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
    }

    /// The host as an IP address, when it is one rather than a name.
    public var ip: IPAddress? { IPAddress(bareHost) }

    public static let maxLength = 255

    public init(host: String, port: Int) throws(AddressError) {
        self = try NodeAddress(parsing: host.contains(":") && !host.hasPrefix("[") ? "[\(host)]:\(port)" : "\(host):\(port)")
    }

    public init(ip: IPAddress, port: Int) {
        let v4 = ip.isIPv4 || (ip.embeddedIPv4 != nil && ip.bytes[10] == 0xFF)
        self.init(canonicalHost: v4 ? ip.description : "[\(ip)]", port: port)
    }

    private init(canonicalHost: String, port: Int) {
        self.host = canonicalHost
        self.port = port
    }

    public init(parsing text: String) throws(AddressError) {
        guard !text.isEmpty else { throw .empty }
        guard text.utf8.count <= Self.maxLength else { throw .tooLong(text.utf8.count) }
        guard let colon = text.utf8.lastIndex(of: UInt8(ascii: ":")) else { throw .missingPort(text) }
        let hostPart = text[..<colon]
        let portPart = String(text[text.index(after: colon)...])
        guard let port = Self.parsePort(portPart) else { throw .badPort(text) }
        if hostPart.hasPrefix("[") {
            guard hostPart.hasSuffix("]"), let ip = IPAddress(hostPart.dropFirst().dropLast()), !ip.isIPv4 else {
                throw .badHost(text)
            }
            self.init(ip: ip, port: port)
        } else if let ip = IPAddress(hostPart), ip.isIPv4 {
            self.init(ip: ip, port: port)
        } else if let name = Self.canonicalName(hostPart) {
            self.init(canonicalHost: name, port: port)
        } else {
            throw .badHost(text)
        }
    }

    public static func < (a: NodeAddress, b: NodeAddress) -> Bool { (a.host, a.port) < (b.host, b.port) }

    private static func parsePort(_ s: String) -> Int? {
        guard (1...5).contains(s.utf8.count), s.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let n = Int(s), (1...65535).contains(n)
        else { return nil }
        return n
    }

    /// An RFC 1123 host name in lower case without its trailing dot: dot-separated labels of letters, digits
    /// and hyphens, 1–63 bytes each, not starting or ending with a hyphen. Its last label must not look like
    /// a number (`1`, `0x7f`): resolvers read such names as IPv4 shorthand.
    private static func canonicalName(_ s: Substring) -> String? {
        var name = s
        if name.hasSuffix(".") { name = name.dropLast() }
        guard (1...253).contains(name.utf8.count) else { return nil }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        let wellFormed = labels.allSatisfy { label in
            (1...63).contains(label.utf8.count) && label.first != "-" && label.last != "-"
                && label.utf8.allSatisfy { c in
                    (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || (c >= 0x30 && c <= 0x39) || c == 0x2D
                }
        }
        guard wellFormed, let last = labels.last?.lowercased(), !looksNumeric(last) else { return nil }
        return name.lowercased()
    }

    /// Decimal digits, or `0x` and hex digits: what `inet_aton` would take as a number.
    private static func looksNumeric(_ label: String) -> Bool {
        let bytes = Array(label.utf8)
        if bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) { return true }
        guard bytes.count >= 2, bytes[0] == 0x30, bytes[1] == 0x78 else { return false }
        return bytes.dropFirst(2).allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
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
