import AshitaTestSupport
import Foundation
import Testing

/// Hosts for one test: network namespaces, each joined to a bridge (in a namespace of its own) by a veth pair,
/// with addresses 10.213.0.1, .2, … that exist only inside them. Made as root with `ip`; nothing is added to the
/// machine's own namespace but the veth pairs' short passage through it at creation. `remove()` deletes it all.
struct NetworkLab: Sendable {
    static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let iptables = ["/usr/sbin/iptables", "/sbin/iptables"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Root, `ip` and `iptables`: what the lab needs.
    static var available: Bool { geteuid() == 0 && ip != nil && iptables != nil }

    let prefix: String
    let hosts: Int
    var bridge: String { "\(prefix)-br" }
    func namespace(_ host: Int) -> String { "\(prefix)-h\(host)" }
    func address(_ host: Int) -> String { "10.213.0.\(host + 1)" }
    /// The veth end of `host` on the bridge.
    func port(_ host: Int) -> String { "\(prefix)p\(host)" }

    static func make(hosts: Int) async throws -> NetworkLab {
        // Names unique to this run (interface names have at most 15 characters).
        let lab = NetworkLab(prefix: "as\(getpid() % 100_000)", hosts: hosts)
        do {
            try await lab.ip("netns", "add", lab.bridge)
            try await lab.ip("-n", lab.bridge, "link", "add", "br0", "type", "bridge")
            try await lab.ip("-n", lab.bridge, "link", "set", "br0", "up")
            for host in 0..<hosts {
                let (namespace, inside, port) = (lab.namespace(host), "\(lab.prefix)h\(host)", lab.port(host))
                try await lab.ip("netns", "add", namespace)
                try await lab.ip("link", "add", inside, "netns", namespace, "type", "veth", "peer", "name", port, "netns", lab.bridge)
                try await lab.ip("-n", lab.bridge, "link", "set", port, "master", "br0", "up")
                try await lab.ip("-n", namespace, "addr", "add", "\(lab.address(host))/24", "dev", inside)
                try await lab.ip("-n", namespace, "link", "set", inside, "up")
                try await lab.ip("-n", namespace, "link", "set", "lo", "up")
            }
        } catch {
            await lab.remove()
            throw error
        }
        return lab
    }

    /// Runs `ip ARGS`; a failure carries its stderr.
    func ip(_ arguments: String...) async throws {
        try await run(Self.ip!, arguments)
    }

    private func run(_ executable: String, _ arguments: [String]) async throws {
        let result = try await runToEnd(executable, arguments, limit: .seconds(20))
        guard result.status == 0 else {
            throw LabError("\(executable) \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
    }

    /// `host`'s cable pulled out: its bridge port goes down, and nothing it sends or is sent arrives (nothing is
    /// closed or refused either).
    func cut(_ host: Int) async throws { try await ip("-n", bridge, "link", "set", port(host), "down") }
    func restore(_ host: Int) async throws { try await ip("-n", bridge, "link", "set", port(host), "up") }

    /// Each host drops this share of the packets that reach it, at random (iptables' statistic match).
    func loss(_ probability: Double) async throws {
        for host in 0..<hosts {
            try await run(
                Self.ip!,
                [
                    "netns", "exec", namespace(host), Self.iptables!, "-A", "INPUT", "-m", "statistic", "--mode", "random",
                    "--probability", "\(probability)", "-j", "DROP",
                ])
        }
    }

    func noLoss() async throws {
        for host in 0..<hosts { try await run(Self.ip!, ["netns", "exec", namespace(host), Self.iptables!, "-F", "INPUT"]) }
    }

    /// `ashita ARGUMENTS` inside `host`'s namespace.
    func ashita(_ host: Int, _ arguments: [String]) throws -> AshitaProcess {
        try AshitaProcess(["netns", "exec", namespace(host), ashitaExecutable] + arguments, executable: Self.ip!)
    }

    /// Deletes the namespaces (and with them the veth pairs and the bridge). Processes still inside keep theirs
    /// alive: stop them first.
    func remove() async {
        for host in 0..<hosts { try? await ip("netns", "del", namespace(host)) }
        try? await ip("netns", "del", bridge)
    }
}

struct LabError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// One member event from `ashita watch --json`: its type and the member's address.
struct MemberEvent: Sendable {
    var type: String
    var address: String

    init?(_ line: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let type = object["type"] as? String, let content = object["content"] as? [String: Any],
            let address = content["nodeIp"] as? String
        else { return nil }
        (self.type, self.address) = (type, address)
    }
}

/// A running `ashita watch --json --replay` of one node's member events, read as far as a test needs.
actor MemberWatch {
    let process: AshitaProcess
    private var lines: AsyncStream<String>.Iterator
    private(set) var events: [MemberEvent] = []

    init(_ process: AshitaProcess) {
        self.process = process
        lines = process.lines.makeAsyncIterator()
    }

    /// The last state `address` was reported in: memberJoined, memberSuspected, memberFailed, memberLeft or nil.
    static func state(of address: String, in events: [MemberEvent]) -> String? {
        events.last { $0.address == address }?.type
    }

    /// Reads events until `condition` holds of all read so far; fails at the end of the output or after `seconds`.
    func until(_ seconds: Double, _ what: String, _ condition: @escaping @Sendable ([MemberEvent]) -> Bool) async throws {
        try await within(seconds, what) { try await self.read(until: condition, what) }
    }

    private func read(until condition: @Sendable ([MemberEvent]) -> Bool, _ what: String) async throws {
        var lines = self.lines
        defer { self.lines = lines }
        while !condition(events) {
            guard let line = await lines.next(isolation: self) else { throw LabError("watch ended before \(what)") }
            if let event = MemberEvent(line) { events.append(event) }
        }
    }
}
