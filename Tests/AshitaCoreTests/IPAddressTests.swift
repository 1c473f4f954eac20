import Testing

@testable import AshitaCore

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("127.0.0.1", IPAddress.Scope.loopback), ("127.255.0.9", .loopback), ("::1", .loopback),
        ("::ffff:127.0.0.1", .loopback), ("10.1.2.3", .private), ("172.16.0.1", .private), ("172.31.255.255", .private),
        ("192.168.1.1", .private), ("100.64.0.1", .private), ("fd12::1", .private), ("169.254.1.1", .linkLocal),
        ("fe80::1", .linkLocal), ("febf::1", .linkLocal), ("0.0.0.0", .unspecified), ("0.1.2.3", .unspecified),
        ("::", .unspecified), ("169.254.169.254", .metadata), ("100.100.100.200", .metadata), ("fd00:ec2::254", .metadata),
        ("::ffff:169.254.169.254", .metadata), ("64:ff9b::a9fe:a9fe", .metadata), ("224.0.0.1", .multicast),
        ("255.255.255.255", .multicast), ("ff02::1", .multicast), ("240.0.0.1", .reserved), ("192.0.2.7", .reserved),
        ("2001:db8::1", .reserved), ("198.18.0.1", .reserved), ("8.8.8.8", .global), ("172.32.0.1", .global),
        ("2606:4700::1111", .global), ("1.1.1.1", .global),
    ])
    func scopesAreKnown(_ text: String, _ scope: IPAddress.Scope) throws {
        #expect(try #require(IPAddress(text)).scope == scope)
    }

    @Test(arguments: ["127.1", "0x7f.0.0.1", "2130706433", "01.2.3.4", "1.2.3.4.5", "1.2.3.", "256.0.0.1", ":::", "1:2", "g::1", ""])
    func shorthandsAreNotAddresses(_ text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func networksContainWhatTheySay() throws {
        let lan = try #require(IPNetwork("10.0.0.0/8"))
        #expect(lan.contains(try #require(IPAddress("10.200.1.1"))))
        #expect(lan.contains(try #require(IPAddress("::ffff:10.0.0.1"))))
        #expect(!lan.contains(try #require(IPAddress("11.0.0.1"))))
        let v6 = try #require(IPNetwork("fd00::/8"))
        #expect(v6.contains(try #require(IPAddress("fd12:3456::1"))))
        #expect(!v6.contains(try #require(IPAddress("fe00::1"))))
        #expect(try #require(IPNetwork("192.168.1.7")).contains(try #require(IPAddress("192.168.1.7"))))
        #expect(IPNetwork("10.0.0.0/33") == nil)
        #expect(IPNetwork("10.0.0.0/") == nil)
        #expect(IPNetwork("example/8") == nil)
    }

    @Test(arguments: [
        ("127.0.0.1", "127.0.0.1"), ("::ffff:10.1.2.3", "10.1.2.3"), ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::7", "2001:db8:1:2::/64"), ("::1", "::/64"), ("unknown", "unknown"),
    ])
    func limitsCountAnIPv6SubscriberByItsNetwork(_ remote: String, _ key: String) {
        #expect(IPAddress.limitKey(remote) == key)
    }
}
