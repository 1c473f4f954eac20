import AshitaTestSupport
import Foundation
import Testing

/// Four `ashita serve` processes, each in a network namespace of its own, on one bridge: several hosts for real.
/// They mesh; a host whose cable is pulled is failed by all others (nothing is closed: pings find it); the cable
/// back, the mesh heals; under 10 % packet loss on every host three graceful restarts and another cut are seen
/// and no answering node is ever failed.
@Suite struct NamespaceMeshTests {
    static let port = 7000
    static let memberTypes = "memberJoined,memberSuspected,memberFailed,memberLeft"

    @Test(.enabled(if: NetworkLab.available, "needs root, ip and iptables (network namespaces)"))
    func hostsMeshDetectACutStayUpUnderLossAndHeal() async throws {
        let lab = try await NetworkLab.make(hosts: 4)
        let hosts = Array(0..<lab.hosts)
        let addresses = hosts.map { "\(lab.address($0)):\(Self.port)" }
        let directories = hosts.map { _ in temporaryDirectory() }
        var nodes: [AshitaProcess] = []
        var watches: [MemberWatch] = []
        func serve(_ host: Int, join: [String]) async throws -> AshitaProcess {
            let node = try lab.ashita(
                host,
                ["serve", "\(Self.port)", "--host", lab.address(host), "--data-dir", directories[host], "--log-level", "warning"]
                    + join.flatMap { ["--join", $0] })
            let line = try #require(try await node.nextLine(), "ashita serve printed nothing")
            #expect(line.contains("\(addresses[host]) listening"), "\(line)")
            return node
        }
        /// Waits until every host in `observers` last heard of each of `members` as `state`.
        func everyone(_ observers: [Int], see members: [Int], as state: String, within seconds: Double = 60) async throws {
            let wanted = members.map { addresses[$0] }
            for observer in observers {
                try await watches[observer].until(seconds, "\(addresses[observer]) to see \(wanted) \(state)") { events in
                    wanted.allSatisfy { MemberWatch.state(of: $0, in: events) == state }
                }
            }
        }
        do {
            nodes.append(try await serve(0, join: []))
            for host in hosts.dropFirst() { nodes.append(try await serve(host, join: [addresses[0]])) }
            for host in hosts {
                watches.append(MemberWatch(try lab.ashita(host, ["watch", addresses[host], "--json", "--replay", "--types", Self.memberTypes])))
            }
            for host in hosts { try await everyone([host], see: hosts.filter { $0 != host }, as: "memberJoined") }

            // The last host's cable out: the others fail it by pings alone, and it fails them.
            try await lab.cut(3)
            try await everyone([0, 1, 2], see: [3], as: "memberFailed")
            try await everyone([3], see: [0, 1, 2], as: "memberFailed")
            // Back: both sides retry the failed, and the mesh is whole again.
            try await lab.restore(3)
            try await everyone([0, 1, 2], see: [3], as: "memberJoined")
            try await everyone([3], see: [0, 1, 2], as: "memberJoined")

            // 10 % of the packets reaching each host are dropped from now on.
            try await lab.loss(0.1)
            // Graceful restarts: the others see each leave; back without --join, each rejoins from the members it
            // saved.
            for host in [2, 1, 2] {
                let others = hosts.filter { $0 != host }
                nodes[host].signal(SIGTERM)
                #expect(try await nodes[host].exitStatus() == 0)
                try await everyone(others, see: [host], as: "memberLeft")
                nodes[host] = try await serve(host, join: [])
                try await everyone(others, see: [host], as: "memberJoined")
            }
            // A cut under loss is still found, and healed.
            try await lab.cut(3)
            try await everyone([0, 1, 2], see: [3], as: "memberFailed")
            try await lab.restore(3)
            try await everyone([0, 1, 2], see: [3], as: "memberJoined")
            try await everyone([3], see: [0, 1, 2], as: "memberJoined")
            try await lab.noLoss()

            // No answering node was ever failed: the hosts never cut failed only the one that was (a watch follows its
            // node across restarts).
            for host in [0, 1, 2] {
                let failed = Set(await watches[host].events.filter { $0.type == "memberFailed" }.map(\.address))
                #expect(failed == [addresses[3]], "\(addresses[host]) failed \(failed)")
            }
        } catch {
            await Self.stop(nodes, watches)
            await lab.remove()
            throw error
        }
        await Self.stop(nodes, watches)
        await lab.remove()
    }

    static func stop(_ nodes: [AshitaProcess], _ watches: [MemberWatch]) async {
        for watch in watches { watch.process.signal(SIGTERM) }
        for node in nodes { node.signal(SIGTERM) }
        for watch in watches { _ = try? await watch.process.exitStatus() }
        for node in nodes { #expect((try? await node.exitStatus()) == 0) }
    }
}
