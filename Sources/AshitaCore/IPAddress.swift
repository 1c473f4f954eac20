/// An IPv4 or IPv6 address as bytes: parsed strictly, written in one canonical spelling, and sorted into the
/// ranges that decide whether a node may be asked to contact it.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6.
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public var isIPv4: Bool { bytes.count == 4 }

    /// Dotted-quad IPv4 (no leading zeros, four parts) or IPv6 without brackets or zone; nil for anything
    /// else, including the shorthand forms `inet_aton` takes (`127.1`, `0x7f.0.0.1`, `2130706433`).
    public init?(_ text: some StringProtocol) {
        if let v4 = Self.parseIPv4(text.utf8) {
            bytes = v4
        } else if let v6 = Self.parseIPv6(Array(text.utf8)) {
            bytes = v6
        } else {
            return nil
        }
    }

    /// The IPv4 address an IPv6 address stands for: IPv4-mapped (`::ffff:a.b.c.d`) or NAT64 (`64:ff9b::/96`).
    public var embeddedIPv4: IPAddress? {
        guard bytes.count == 16 else { return nil }
        let prefix = Array(bytes[0..<12])
        let mapped: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]
        let nat64: [UInt8] = [0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0]
        guard prefix == mapped || prefix == nat64 else { return nil }
        return IPAddress(bytes: Array(bytes[12..<16]))
    }

    /// IPv4 as dotted quad; IPv6 as RFC 5952 has it (lower case, the longest run of zero groups as `::`).
    /// An IPv4-mapped IPv6 address is written as the IPv4 address it maps, since both reach the same host.
    public var description: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        if let v4 = embeddedIPv4, bytes[10] == 0xFF { return v4.description }
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        var best = (start: -1, length: 0)
        var run = (start: -1, length: 0)
        for (i, group) in groups.enumerated() {
            if group == 0 {
                run = run.start < 0 ? (i, 1) : (run.start, run.length + 1)
                if run.length > best.length { best = run }
            } else {
                run = (-1, 0)
            }
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard best.length >= 2 else { return hex(0..<8) }
        return hex(0..<best.start) + "::" + hex((best.start + best.length)..<8)
    }

    /// The key that per-address limits count a remote address under: an IPv4 address as itself (also when
    /// IPv4-mapped), an IPv6 address by its /64 (one subscriber's network: any host there can use all 2^64 of
    /// them). Text that is no address is its own key.
    public static func limitKey(_ remote: String) -> String {
        guard let ip = IPAddress(remote) else { return remote }
        if let v4 = ip.embeddedIPv4, ip.bytes[10] == 0xFF { return v4.description }
        guard !ip.isIPv4 else { return ip.description }
        let prefix = IPAddress(bytes: Array(ip.bytes[0..<8]) + [UInt8](repeating: 0, count: 8))!
        return "\(prefix)/64"
    }

    // MARK: Ranges

    /// Where an address points, as far as a node contacting it is concerned (its range of addresses).
    public enum Scope: String, Sendable, CaseIterable {
        /// The internet.
        case global
        /// This host: 127.0.0.0/8, ::1.
        case loopback
        /// A private network: 10/8, 172.16/12, 192.168/16, 100.64/10 (carrier-grade NAT), fc00::/7.
        case `private`
        /// Link-local: 169.254/16, fe80::/10.
        case linkLocal = "link-local"
        /// "This host" or "any": 0.0.0.0/8, ::.
        case unspecified
        /// Cloud instance metadata services: 169.254.169.254, 100.100.100.200, fd00:ec2::254.
        case metadata
        /// Multicast and broadcast: 224/4, 255.255.255.255, ff00::/8.
        case multicast
        /// Reserved, documentation and benchmarking ranges: 240/4, 192.0.0/24, 192.0.2/24, 198.18/15,
        /// 198.51.100/24, 203.0.113/24, 2001:db8::/32, and IPv6 outside 2000::/3 not named above.
        case reserved
    }

    public var scope: Scope {
        if let v4 = embeddedIPv4 { return v4.scope }
        return bytes.count == 4 ? ipv4Scope : ipv6Scope
    }

    private var ipv4Scope: Scope {
        let (a, b, c, d) = (bytes[0], bytes[1], bytes[2], bytes[3])
        switch (a, b) {
        case (169, 254) where c == 169 && d == 254, (100, 100) where c == 100 && d == 200: return .metadata
        case (0, _): return .unspecified
        case (127, _): return .loopback
        case (10, _), (172, 16...31), (192, 168), (100, 64...127): return .private
        case (169, 254): return .linkLocal
        case (224...239, _): return .multicast
        case (255, 255) where c == 255 && d == 255: return .multicast
        case (240...255, _), (198, 18...19): return .reserved
        case (192, 0) where c == 0 || c == 2: return .reserved
        case (198, 51) where c == 100, (203, 0) where c == 113: return .reserved
        default: return .global
        }
    }

    private var ipv6Scope: Scope {
        if bytes == [UInt8](repeating: 0, count: 16) { return .unspecified }
        if bytes == [UInt8](repeating: 0, count: 15) + [1] { return .loopback }
        if bytes == [0xFD, 0, 0x0E, 0xC2] + [UInt8](repeating: 0, count: 10) + [0x02, 0x54] { return .metadata }
        switch bytes[0] {
        case 0xFF: return .multicast
        case 0xFE where bytes[1] & 0xC0 == 0x80: return .linkLocal
        case 0xFC, 0xFD: return .private
        case 0x20 where bytes[1] == 0x01 && bytes[2] == 0x0D && bytes[3] == 0xB8: return .reserved
        case 0x20...0x3F: return .global
        default: return .reserved
        }
    }

    // MARK: Parsing

    private static func parseIPv4(_ text: some Collection<UInt8>) -> [UInt8]? {
        var parts: [UInt8] = []
        var value = 0
        var digits = 0
        var leadingZero = false
        for c in text {
            if c == UInt8(ascii: ".") {
                guard digits > 0, parts.count < 3 else { return nil }
                parts.append(UInt8(value))
                (value, digits, leadingZero) = (0, 0, false)
                continue
            }
            guard (0x30...0x39).contains(c), digits < 3, !leadingZero else { return nil }
            if digits == 0 && c == 0x30 { leadingZero = true }
            value = value * 10 + Int(c - 0x30)
            digits += 1
            guard value <= 255 else { return nil }
        }
        guard digits > 0, parts.count == 3 else { return nil }
        return parts + [UInt8(value)]
    }

    /// Hex groups, at most one `::`, optionally ending in a dotted IPv4 address.
    private static func parseIPv6(_ text: [UInt8]) -> [UInt8]? {
        guard (2...45).contains(text.count) else { return nil }
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var compressed = false
        var i = 0
        if text.starts(with: [0x3A, 0x3A]) {
            compressed = true
            i = 2
        } else if text.first == 0x3A {
            return nil
        }
        while i < text.count {
            // A group with a dot is a dotted IPv4 address, which ends the text.
            let token = text[i...].prefix { $0 != 0x3A }
            if token.contains(UInt8(ascii: ".")) {
                guard token.endIndex == text.count, let v4 = parseIPv4(token) else { return nil }
                let groups = [UInt16(v4[0]) << 8 | UInt16(v4[1]), UInt16(v4[2]) << 8 | UInt16(v4[3])]
                if compressed { tail += groups } else { head += groups }
                i = text.count
                break
            }
            var group: UInt16 = 0
            var digits = 0
            while i < text.count, let nibble = hexValue(text[i]) {
                guard digits < 4 else { return nil }
                group = group << 4 | UInt16(nibble)
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            if compressed { tail.append(group) } else { head.append(group) }
            guard i < text.count else { break }
            guard text[i] == 0x3A else { return nil }
            i += 1
            if i < text.count, text[i] == 0x3A {
                guard !compressed else { return nil }
                compressed = true
                i += 1
            } else if i == text.count {
                // A single colon at the end.
                return nil
            }
        }
        let count = head.count + tail.count
        guard compressed ? count <= 7 : count == 8 else { return nil }
        let groups = head + [UInt16](repeating: 0, count: 8 - count) + tail
        return groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x61...0x66: c - 0x61 + 10
        case 0x41...0x46: c - 0x41 + 10
        default: nil
        }
    }
}

/// A block of addresses, `ADDRESS/BITS` (e.g. `10.0.0.0/8`, `fd00::/8`), for ranges an operator allows.
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    public let address: IPAddress
    public let prefixLength: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard let address = parts.first.flatMap({ IPAddress($0) }) else { return nil }
        let bits = address.bytes.count * 8
        if parts.count == 1 {
            self.init(address: address, prefixLength: bits)
            return
        }
        guard parts.count == 2, (1...3).contains(parts[1].count), parts[1].allSatisfy(\.isASCIIDigit),
            let length = Int(parts[1]), length <= bits
        else { return nil }
        self.init(address: address, prefixLength: length)
    }

    init(address: IPAddress, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    public func contains(_ other: IPAddress) -> Bool {
        let candidate = address.isIPv4 ? (other.embeddedIPv4 ?? other) : other
        guard candidate.bytes.count == address.bytes.count else { return false }
        var remaining = prefixLength
        for (a, b) in zip(address.bytes, candidate.bytes) where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            guard a & mask == b & mask else { return false }
            remaining -= 8
        }
        return true
    }

    public var description: String { "\(address)/\(prefixLength)" }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
