import Testing

@testable import AshitaCore

@Suite struct NodeAddressTests {
    @Test(arguments: [
        "127.0.0.1:8000", "localhost:1", "node-1.example.org:65535", "[::1]:9000", "[2001:db8::7]:443",
        "EXAMPLE.com:80", "a:8000", "[1:2:3:4:5:6:7:8]:1", "node-1.example.org:1",
    ])
    func accepts(_ text: String) throws {
        let address = try NodeAddress(parsing: text)
        #expect(address.description == text.lowercased())
    }

    /// One host and port, one spelling: so a cache, a peer table or a state file keyed by address cannot be
    /// filled with spellings of one place.
    @Test(arguments: [
        ("[::ffff:7f00:1]:8000", "127.0.0.1:8000"), ("[::ffff:127.0.0.1]:8000", "127.0.0.1:8000"),
        ("[0:0::1]:8000", "[::1]:8000"), ("[00::1]:8000", "[::1]:8000"), ("[0000:0:0:0:0:0:0:1]:8000", "[::1]:8000"),
        ("[2001:DB8:0:0:1:0:0:1]:1", "[2001:db8::1:0:0:1]:1"), ("[2001:db8::0:1]:1", "[2001:db8::1]:1"),
        ("[1:0:0:2:0:0:0:3]:1", "[1:0:0:2::3]:1"), ("[::]:1", "[::]:1"), ("LOCALHOST:8000", "localhost:8000"),
        ("localhost.:8000", "localhost:8000"), ("Node.Example.ORG.:443", "node.example.org:443"),
        ("[::ffff:192.0.2.1]:80", "192.0.2.1:80"),
    ])
    func spellingsOfOnePlaceBecomeOne(_ text: String, _ canonical: String) throws {
        #expect(try NodeAddress(parsing: text).description == canonical)
        #expect(try NodeAddress(parsing: canonical).description == canonical)
    }

    @Test(arguments: [
        "", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:+80", "127.0.0.1:080000", ":8000",
        "../../x:80", "<script>alert(1)</script>:80", "a b:80", "-bad.example:80", "bad-.example:80",
        "256.1.1.1:80", "1.2.3:80", "01.2.3.4:80", "[::1:80", "::1:80", "[12345::1]:80", "[1::2::3]:80",
        "[1:2:3:4:5:6:7:8:9]:80", "host:80 ", "hö.st:80", "x..y:80", "[::1]x:80", "\u{0}:80", "1234:80",
        // Numeric shorthands a resolver would turn into an address: refused, not interpreted.
        "0x7f.1:80", "0x7f000001:80", "2130706433:80", "127.1:80", "0177.0.0.1:80", "example.0x10:80", "a.1:80",
        "[127.0.0.1]:80", "[fe80::1%eth0]:80", "[1::2:]:80", "[:1::2]:80",
    ])
    func rejects(_ text: String) {
        #expect(throws: AddressError.self) { try NodeAddress(parsing: text) }
    }

    @Test func rejectsOverlongAndSaysWhy() {
        let long = String(repeating: "a", count: 300) + ":80"
        #expect(throws: AddressError.tooLong(303)) { try NodeAddress(parsing: long) }
        let label = String(repeating: "a", count: 64) + ".example:80"
        #expect(throws: AddressError.badHost(label)) { try NodeAddress(parsing: label) }
    }

    @Test func messagesQuoteUntrustedTextSafely() {
        let error = AddressError.badHost("<b>\u{7}\"x")
        #expect(error.description == #"node must be host:port with a DNS name, IPv4 or [IPv6] host, got "<b>\u{7}\"x""#)
        #expect(quoted(String(repeating: "x", count: 100)).count == 64 + 3)
    }

    @Test func buildsFromHostAndPort() throws {
        #expect(try NodeAddress(host: "::1", port: 80).description == "[::1]:80")
        #expect(try NodeAddress(host: "::1", port: 80).bareHost == "::1")
        #expect(try NodeAddress(host: "127.0.0.1", port: 80).description == "127.0.0.1:80")
    }
}
