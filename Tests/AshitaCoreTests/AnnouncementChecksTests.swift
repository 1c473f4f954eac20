import Testing

@testable import AshitaCore

/// The rules for checking announced homes, with a hand-held clock: a stranger cannot make the node contact a
/// place more often, faster, or somewhere else than these allow.
@Suite struct AnnouncementChecksTests {
    var clock = Timestamp(milliseconds: 1_000_000)
    static let loopbackNode = AnnouncementPolicy.forNode(at: [IPAddress("127.0.0.1")!])

    private func addr(_ s: String) -> NodeAddress { try! NodeAddress(parsing: s) }
    private func ip(_ s: String) -> IPAddress { IPAddress(s)! }
    private func destination(_ s: String) -> AnnouncementChecks.Destination {
        let address = addr(s)
        return .init(ip: address.ip!, port: address.port)
    }

    private func checks(
        policy: AnnouncementPolicy = loopbackNode, _ change: (inout AnnouncementChecks.Limits) -> Void = { _ in }
    ) -> AnnouncementChecks {
        var limits = AnnouncementChecks.Limits()
        change(&limits)
        return AnnouncementChecks(limits: limits, policy: policy, at: clock)
    }

    private static let found = AnnouncementChecks.Outcome.success(PeerFacts(id: "peer", tls: false))
    private static let refused = AnnouncementChecks.Outcome.failure(.init("connection refused"))

    @Test func oneContactPerAddressHoweverManyAnnounceIt() {
        var checks = checks()
        for announcer in ["10.0.0.1", "10.0.0.2", "10.0.0.3"] {
            #expect(checks.submit(addr("127.0.0.1:9000"), announcer: announcer, at: clock).isEmpty)
        }
        let plan = checks.step(at: clock)
        #expect(plan.work == [.contact(addr("127.0.0.1:9000"), destination("127.0.0.1:9000"))])
        let reports = checks.contacted(addr("127.0.0.1:9000"), at: destination("127.0.0.1:9000"), Self.found, now: clock)
        #expect(reports.map(\.outcome) == [Self.found])
        // Cached: asked again, it is answered without a contact.
        #expect(checks.submit(addr("127.0.0.1:9000"), announcer: "10.0.0.4", at: clock).map(\.outcome) == [Self.found])
        #expect(checks.step(at: clock).work.isEmpty)
    }

    @Test func namesForOnePlaceCostOneContact() {
        var checks = checks()
        for name in ["a.example:9000", "b.example:9000", "c.example:9000"] {
            _ = checks.submit(addr(name), announcer: "10.0.0.1", at: clock)
        }
        var plan = checks.step(at: clock)
        #expect(plan.work.count == 3)
        for name in ["a.example:9000", "b.example:9000", "c.example:9000"] {
            #expect(checks.resolved(addr(name), to: [ip("127.0.0.1")], at: clock).isEmpty)
        }
        plan = checks.step(at: clock)
        // All three point at 127.0.0.1:9000: one contact; the others wait for it.
        #expect(plan.work == [.contact(addr("a.example:9000"), destination("127.0.0.1:9000"))])
        _ = checks.contacted(addr("a.example:9000"), at: destination("127.0.0.1:9000"), Self.refused, now: clock)
        plan = checks.step(at: clock)
        #expect(plan.work.isEmpty)
        #expect(Set(plan.reports.map(\.address)) == [addr("b.example:9000"), addr("c.example:9000")])
        #expect(plan.reports.allSatisfy { $0.outcome == Self.refused })
    }

    @Test(arguments: [
        ("169.254.169.254:80", "169.254.169.254 is a metadata address"), ("[fe80::1]:80", "fe80::1 is a link-local address, which this node does not contact (serve --allow-checks-to)"),
        ("0.0.0.0:8000", "0.0.0.0 is an unspecified address"), ("[::]:8000", ":: is an unspecified address"),
        ("10.0.0.7:8000", "10.0.0.7 is a private address, which this node does not contact (serve --allow-checks-to)"),
        ("224.0.0.1:80", "224.0.0.1 is a multicast address"),
    ])
    func placesThePolicyRefusesAreNeverContacted(_ address: String, _ reason: String) {
        var checks = checks()
        let reports = checks.submit(addr(address), announcer: "10.0.0.1", at: clock)
        #expect(reports.map(\.outcome) == [.failure(.init(reason))])
        #expect(checks.step(at: clock).work.isEmpty)
    }

    @Test func aNameIsContactedOnlyAtAnAddressThePolicyAllows() {
        var checks = checks(policy: AnnouncementPolicy())
        _ = checks.submit(addr("metadata.example:80"), announcer: "10.0.0.1", at: clock)
        #expect(checks.step(at: clock).work == [.resolve(addr("metadata.example:80"))])
        let reports = checks.resolved(addr("metadata.example:80"), to: [ip("169.254.169.254"), ip("127.0.0.1")], at: clock)
        #expect(reports.map(\.outcome) == [.failure(.init("169.254.169.254 is a metadata address"))])
        // A name with an allowed address among refused ones is contacted there, and only there.
        _ = checks.submit(addr("mixed.example:80"), announcer: "10.0.0.1", at: clock)
        _ = checks.step(at: clock)
        _ = checks.resolved(addr("mixed.example:80"), to: [ip("127.0.0.1"), ip("8.8.8.8")], at: clock)
        #expect(checks.step(at: clock).work == [.contact(addr("mixed.example:80"), destination("8.8.8.8:80"))])
        // And one that does not resolve fails.
        _ = checks.submit(addr("nowhere.example:80"), announcer: "10.0.0.1", at: clock)
        _ = checks.step(at: clock)
        #expect(checks.resolved(addr("nowhere.example:80"), to: [], at: clock).map(\.outcome) == [.failure(.init("nowhere.example does not resolve"))])
    }

    @Test func aNameIsTriedAtItsNextAddressWhenOneFails() {
        var checks = checks()
        _ = checks.submit(addr("localhost:9000"), announcer: "a", at: clock)
        _ = checks.step(at: clock)
        _ = checks.resolved(addr("localhost:9000"), to: [ip("::1"), ip("127.0.0.1")], at: clock)
        #expect(checks.step(at: clock).work == [.contact(addr("localhost:9000"), destination("[::1]:9000"))])
        #expect(checks.contacted(addr("localhost:9000"), at: destination("[::1]:9000"), Self.refused, now: clock).isEmpty)
        #expect(checks.step(at: clock).work == [.contact(addr("localhost:9000"), destination("127.0.0.1:9000"))])
        let reports = checks.contacted(addr("localhost:9000"), at: destination("127.0.0.1:9000"), Self.found, now: clock)
        #expect(reports.map(\.outcome) == [Self.found])
    }

    @Test func anOperatorCanAllowANetwork() {
        var checks = checks(policy: AnnouncementPolicy(allowedNetworks: [IPNetwork("10.0.0.0/8")!]))
        _ = checks.submit(addr("10.1.2.3:8000"), announcer: "10.0.0.1", at: clock)
        #expect(checks.step(at: clock).work == [.contact(addr("10.1.2.3:8000"), destination("10.1.2.3:8000"))])
        #expect(checks.submit(addr("192.168.0.1:8000"), announcer: "10.0.0.1", at: clock).count == 1)
    }

    @Test func aSilentDestinationHoldsOnlyItsOwnChecks() {
        var checks = checks { $0.maxInFlight = 2 }
        // A destination that never answers (its contact never reports back).
        _ = checks.submit(addr("127.0.0.1:1111"), announcer: "10.0.0.1", at: clock)
        _ = checks.submit(addr("localhost:1111"), announcer: "10.0.0.1", at: clock)
        var plan = checks.step(at: clock)
        #expect(plan.work == [.contact(addr("127.0.0.1:1111"), destination("127.0.0.1:1111")), .resolve(addr("localhost:1111"))])
        _ = checks.resolved(addr("localhost:1111"), to: [ip("127.0.0.1")], at: clock)
        // A real home, announced after them, starts at once: the silent one has one contact and waits.
        _ = checks.submit(addr("127.0.0.1:9000"), announcer: "10.0.0.1", at: clock)
        plan = checks.step(at: clock)
        #expect(plan.work == [.contact(addr("127.0.0.1:9000"), destination("127.0.0.1:9000"))])
    }

    @Test mutating func announcersAreServedInTurn() {
        var checks = checks { $0.maxInFlight = 1 }
        for port in 1000..<1060 { _ = checks.submit(addr("127.0.0.1:\(port)"), announcer: "10.6.6.6", at: clock) }
        _ = checks.submit(addr("127.0.0.1:9000"), announcer: "10.0.0.2", at: clock)
        var started: [NodeAddress] = []
        for _ in 0..<3 {
            for case .contact(let address, let destination) in checks.step(at: clock).work {
                started.append(address)
                _ = checks.contacted(address, at: destination, Self.refused, now: clock)
            }
            clock = clock.adding(milliseconds: 1000)
        }
        #expect(started.prefix(2).contains(addr("127.0.0.1:9000")), "started: \(started)")
    }

    @Test mutating func contactsAreRateLimitedInAllAndPerHost() {
        var checks = checks { $0.contactRate = 2; $0.contactBurst = 2; $0.hostRate = 1; $0.hostBurst = 1; $0.maxInFlight = 100 }
        for port in 1000..<1003 { _ = checks.submit(addr("127.0.0.1:\(port)"), announcer: "a", at: clock) }
        for port in 1000..<1003 { _ = checks.submit(addr("127.0.0.2:\(port)"), announcer: "b", at: clock) }
        var plan = checks.step(at: clock)
        // One per host (its burst), two in all (the global burst).
        #expect(plan.work.count == 2)
        #expect(plan.wakeUp == clock.adding(milliseconds: 1000))
        clock = clock.adding(milliseconds: 500)
        #expect(checks.step(at: clock).work.isEmpty, "each host still waits for its own token")
        clock = clock.adding(milliseconds: 500)
        plan = checks.step(at: clock)
        #expect(plan.work.count == 2)
        #expect(checks.waiting == 6)
    }

    @Test mutating func resolvingANameCostsAContact() {
        var checks = checks { $0.contactRate = 1; $0.contactBurst = 2; $0.maxResolving = 10 }
        for i in 0..<4 { _ = checks.submit(addr("n\(i).example:80"), announcer: "a", at: clock) }
        let plan = checks.step(at: clock)
        #expect(plan.work.count == 2, "two names resolved with a burst of two")
        #expect(plan.wakeUp == clock.adding(milliseconds: 1000))
        // A resolution that took too long says so.
        let reports = checks.resolved(addr("n0.example:80"), to: [], failure: "n0.example did not resolve within 2000 ms", at: clock)
        #expect(reports.map(\.outcome) == [.failure(.init("n0.example did not resolve within 2000 ms"))])
    }

    @Test func queuesAreBounded() {
        var checks = checks { $0.maxQueuedPerAnnouncer = 2; $0.maxQueued = 3; $0.maxInFlight = 0 }
        #expect(checks.submit(addr("127.0.0.1:1"), announcer: "a", at: clock).isEmpty)
        #expect(checks.submit(addr("127.0.0.1:2"), announcer: "a", at: clock).isEmpty)
        #expect(checks.submit(addr("127.0.0.1:3"), announcer: "a", at: clock).map(\.outcome) == [.failure(.init("not checked: 2 checks are waiting for a"))])
        #expect(checks.submit(addr("127.0.0.1:4"), announcer: "b", at: clock).isEmpty)
        #expect(checks.submit(addr("127.0.0.1:5"), announcer: "c", at: clock).map(\.outcome) == [.failure(.init("not checked: 3 checks are waiting"))])
    }

    @Test mutating func aCheckThatWaitsTooLongFails() {
        var checks = checks { $0.maxInFlight = 0; $0.maxWaitSeconds = 30 }
        _ = checks.submit(addr("127.0.0.1:1"), announcer: "a", at: clock)
        #expect(checks.step(at: clock).wakeUp == clock.adding(milliseconds: 30_000))
        clock = clock.adding(milliseconds: 30_000)
        let plan = checks.step(at: clock)
        #expect(plan.reports.map(\.address) == [addr("127.0.0.1:1")])
        #expect(checks.waiting == 0)
    }

    @Test mutating func failuresAreRememberedBrieflyAndSuccessesLonger() {
        var checks = checks()
        let (failing, working) = (addr("127.0.0.1:1"), addr("127.0.0.1:2"))
        for address in [failing, working] { _ = checks.submit(address, announcer: "a", at: clock) }
        _ = checks.step(at: clock)
        _ = checks.contacted(failing, at: destination("127.0.0.1:1"), Self.refused, now: clock)
        _ = checks.contacted(working, at: destination("127.0.0.1:2"), Self.found, now: clock)
        clock = clock.adding(milliseconds: 9_999)
        #expect(checks.submit(failing, announcer: "a", at: clock).count == 1)
        clock = clock.adding(milliseconds: 1)
        #expect(checks.submit(failing, announcer: "a", at: clock).isEmpty, "checked again after 10 s")
        clock = clock.adding(milliseconds: 289_999)
        #expect(checks.submit(working, announcer: "a", at: clock).count == 1)
    }
}

/// Whom a client follows: one socket per node, however many names it is announced under, and only so many on
/// any one node's word.
@Suite struct FollowPolicyTests {
    private func addr(_ s: String) -> NodeAddress { try! NodeAddress(parsing: s) }

    @Test func oneNodeUnderManyNamesTakesOneSocket() {
        var policy = FollowPolicy(maxConnections: 3)
        let start = addr("127.0.0.1:8000")
        policy.start(start)
        policy.identified(start, id: "a")
        #expect(policy.consider(addr("localhost:9000"), id: "e", announcedBy: start) == .follow)
        #expect(policy.consider(addr("127.0.0.1:9000"), id: "e", announcedBy: start) == .sameNode(as: addr("localhost:9000")))
        #expect(policy.consider(addr("a.example:8000"), id: "a", announcedBy: start) == .sameNode(as: start))
        #expect(policy.consider(addr("127.0.0.1:9100"), id: "r", announcedBy: start) == .follow)
        #expect(policy.consider(addr("127.0.0.1:9100"), id: "r", announcedBy: start) == .known)
        #expect(policy.consider(addr("127.0.0.1:9200"), id: "s", announcedBy: start) == .full)
    }

    @Test func oneAnnouncerOpensOnlySoManySockets() {
        var policy = FollowPolicy(maxConnections: 32)
        #expect(policy.perAnnouncer == 8)
        let loud = addr("127.0.0.1:8000")
        policy.start(loud)
        for port in 1...8 { #expect(policy.consider(addr("127.0.0.1:\(9000 + port)"), id: "n\(port)", announcedBy: loud) == .follow) }
        #expect(policy.consider(addr("127.0.0.1:9100"), id: "n9", announcedBy: loud) == .announcerLimit)
        // Another node's word opens more.
        #expect(policy.consider(addr("127.0.0.1:9100"), id: "n9", announcedBy: addr("127.0.0.1:9001")) == .follow)
        // Without ids (checks off), addresses count.
        #expect(policy.consider(addr("127.0.0.1:9200"), id: nil, announcedBy: addr("127.0.0.1:9001")) == .follow)
    }
}
