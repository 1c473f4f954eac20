import AshitaCore
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs a simulation on a thread of its own at the lowest priority (nice 19): the socket and process tests beside
/// it, which wait on real deadlines, get the CPU first on a two-core machine.
func simulate<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread {
            #if canImport(Glibc)
            // On Linux, 0 names the calling thread, not the whole process.
            _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 19)
            #endif
            continuation.resume(returning: work())
        }
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// The membership and overlay rules under the seeded simulator: many nodes, a virtual clock, a network with delay,
/// loss, partitions and stalls. Times here are virtual milliseconds. Each simulation runs on a low-priority thread
/// of its own, one at a time, so it never holds up the socket tests' tasks on a two-core machine.
@Suite(.serialized) struct MembershipSimulationTests {
    /// Starts `count` nodes a few milliseconds apart, each joining a random earlier one, and runs until all see all.
    static func converged(_ count: Int, seed: UInt64, conditions: NetworkConditions = NetworkConditions(), limit: Int64 = 30_000)
        -> (MeshSimulation, Int64?)
    {
        let simulation = MeshSimulation(nodes: count, seed: seed, conditions: conditions)
        var random = SeededRandom(seed: seed)
        simulation.start(0, joining: [])
        for index in 1..<count {
            simulation.run(until: simulation.now + 2)
            simulation.start(index, joining: [Int(random.next() % UInt64(index))])
        }
        let all = Array(0..<count)
        let took = simulation.run(for: limit) { simulation.everyone(all, sees: all, as: .alive) }
        return (simulation, took)
    }

    /// What a run found, carried off its thread.
    struct Findings: Sendable {
        var took: Int64?
        var seen: Int64?
        var falseFailures: [String] = []
        var allAlive = false
        var connected = false
        var linksWithinBounds = false
    }

    static func falseFailures(_ simulation: MeshSimulation, except subject: Int? = nil) -> [String] {
        simulation.failureMarks.filter { $0.subject != subject }.map { "\($0.time): \($0.observer) failed \($0.subject)" }
    }

    /// The 1,000 nodes: about 30 s of CPU in a debug build, so `.ci/run` runs this suite on its own, after
    /// the socket and process tests (beside them, even at nice 19, it starved their real deadlines).
    static let manyNodes = 1_000

    @Test func manyNodesConvergeWithBoundedLinksAndAConnectedOverlay() async {
        let found = await simulate {
            let (simulation, took) = Self.converged(Self.manyNodes, seed: 1)
            let all = Array(0..<Self.manyNodes)
            let bounded = all.allSatisfy {
                (1...simulation.configuration.maxLinks).contains(simulation.membership($0)!.linkedPeers.count)
            }
            return Findings(
                took: took, falseFailures: Self.falseFailures(simulation), connected: simulation.linksConnect(all),
                linksWithinBounds: bounded)
        }
        #expect(found.took != nil, "\(Self.manyNodes) nodes did not all see each other alive within 30 s")
        #expect(found.falseFailures.isEmpty)
        #expect(found.connected)
        #expect(found.linksWithinBounds)
    }

    @Test func aKilledNodeIsFailedEverywhereAsSoonAsItsLinksClose() async {
        let found = await simulate {
            let (simulation, took) = Self.converged(60, seed: 2)
            simulation.crash(17)
            let others = simulation.upNodes
            let seen = simulation.run(for: 5_000, step: 10) { simulation.everyone(others, seesGone: 17) }
            return Findings(
                took: took, seen: seen, falseFailures: Self.falseFailures(simulation, except: 17),
                allAlive: simulation.everyone(others, sees: others, as: .alive))
        }
        #expect(found.took != nil)
        #expect(found.seen != nil && found.seen! <= 1_000, "all saw the killed node gone after \(found.seen.map(String.init) ?? "never") ms")
        #expect(found.allAlive)
        #expect(found.falseFailures.isEmpty)
    }

    @Test func aGracefulLeaveIsSeenByAllAtOnce() async {
        let found = await simulate {
            let (simulation, _) = Self.converged(60, seed: 3)
            simulation.leave(5)
            let others = simulation.upNodes
            let seen = simulation.run(for: 2_000, step: 5) { simulation.everyone(others, sees: [5], as: .left) }
            return Findings(seen: seen, falseFailures: Self.falseFailures(simulation))
        }
        #expect(found.seen != nil && found.seen! <= 100)
        #expect(found.falseFailures.isEmpty)
    }

    /// A newcomer links to the node it joins and then to a few more that know the mesh: each sends only what the
    /// newcomer lacks (`have`), so the newcomer is sent about one table's worth of records, not one per link.
    @Test func aNewcomerIsSentTheTableOnceNotOnEveryLink() async {
        let found = await simulate {
            let (simulation, _) = Self.converged(60, seed: 10)
            simulation.crash(59)
            let others = simulation.upNodes
            _ = simulation.run(for: 10_000, step: 50) { simulation.everyone(others, seesGone: 59) }
            let before = simulation.recordsReceived[59, default: 0]
            simulation.start(59, joining: [0])
            let all = Array(0..<60)
            let seen = simulation.run(for: 5_000, step: 5) { simulation.everyone(all, sees: all, as: .alive) }
            // Time to link to more members than the one it joined.
            simulation.run(until: simulation.now + 3_000)
            let links = simulation.membership(59)!.linkedPeers.count
            return (seen, simulation.recordsReceived[59, default: 0] - before, links)
        }
        #expect(found.0 != nil)
        #expect(found.2 >= 3, "the newcomer linked to \(found.2) members only: the test tested nothing")
        // The 58 members other than itself and the one it joined (whose record came with the greeting), and what
        // flooding echoes; with a whole table on each of its links it would be sent 60 records a link.
        #expect(found.1 >= 58 && found.1 < 2 * 60, "the newcomer was sent \(found.1) records over \(found.2) links")
    }

    /// Sixty members joining the first within 60 ms: flooding passes each record on at the next tick only to the
    /// neighbours not known to hold it, one message each. With the record sent back to neighbours that had sent it
    /// meanwhile (and in one message per sender) the same run took 2,643 messages and 12,921 records.
    @Test func aJoinFloodDoesNotEchoRecordsToNeighboursThatSentThem() async {
        let found = await simulate {
            let simulation = MeshSimulation(nodes: 60, seed: 3, conditions: NetworkConditions(latency: 1))
            simulation.start(0, joining: [])
            for index in 1..<60 {
                simulation.run(until: simulation.now + 1)
                simulation.start(index, joining: [0])
            }
            let all = Array(0..<60)
            let seen = simulation.run(for: 30_000, step: 1) { simulation.everyone(all, sees: all, as: .alive) }
            return (seen, simulation.messagesDelivered, simulation.recordsReceived.values.reduce(0, +))
        }
        #expect(found.0 != nil)
        #expect(found.1 < 2_000, "\(found.1) messages")
        #expect(found.2 < 11_500, "\(found.2) records")
    }

    @Test func aNodeCutOffSilentlyIsFoundByPingsAndOnlyIt() async {
        let found = await simulate {
            let (simulation, _) = Self.converged(30, seed: 4)
            simulation.partition { $0 == 9 ? 1 : 0 }
            let others = simulation.upNodes.filter { $0 != 9 }
            let seen = simulation.run(for: 30_000, step: 50) { simulation.everyone(others, seesGone: 9) }
            // The cut-off node may fail the others from its side; nobody else may be failed by anyone.
            let wrong = simulation.failureMarks.filter { $0.subject != 9 && $0.observer != 9 }.map { "\($0.observer) failed \($0.subject)" }
            return Findings(seen: seen, falseFailures: wrong)
        }
        // Its neighbours' heartbeats go unacknowledged (two TCP resends, 0.6 s), nothing comes from it for a probe
        // timeout, neither do their neighbours reach it: each of them claims `unreachable`, and together they make
        // the suspicion short (1.2 s in all here).
        #expect(found.seen != nil && found.seen! <= 2_000, "the cut-off node was found after \(found.seen.map(String.init) ?? "never") ms")
        #expect(found.falseFailures.isEmpty)
    }

    @Test func aSplitMeshHealsAndConvergesToOneView() async {
        let found = await simulate {
            let (simulation, _) = Self.converged(40, seed: 5)
            simulation.partition { $0 % 2 }
            let even = simulation.upNodes.filter { $0 % 2 == 0 }
            let odd = simulation.upNodes.filter { $0 % 2 == 1 }
            let split = simulation.run(for: 60_000, step: 100) {
                odd.allSatisfy { simulation.everyone(even, seesGone: $0) } && even.allSatisfy { simulation.everyone(odd, seesGone: $0) }
            }
            simulation.heal()
            let all = simulation.upNodes
            let healed = simulation.run(for: 60_000, step: 100) { simulation.everyone(all, sees: all, as: .alive) }
            return Findings(took: split, seen: healed, connected: simulation.linksConnect(all))
        }
        #expect(found.took != nil, "the halves did not see each other gone")
        #expect(found.seen != nil, "the mesh did not heal")
        #expect(found.connected)
    }

    @Test func noAnsweringNodeIsFailedUnderLossAndJitter() async {
        let found = await simulate {
            let conditions = NetworkConditions(latency: 5, jitter: 100, loss: 0.10)
            let (simulation, took) = Self.converged(40, seed: 6, conditions: conditions, limit: 60_000)
            simulation.run(until: simulation.now + 120_000)
            let all = simulation.upNodes
            // At any instant some member may be suspected by a few (a lost ping); it refutes within a second or two.
            let settled = simulation.run(for: 10_000, step: 50) { simulation.everyone(all, sees: all, as: .alive) }
            return Findings(took: took, falseFailures: Self.falseFailures(simulation), allAlive: settled != nil)
        }
        #expect(found.took != nil)
        #expect(found.falseFailures.isEmpty)
        #expect(found.allAlive)
    }

    @Test func aNodeStalledForSecondsIsNotFailed() async {
        let found = await simulate {
            let (simulation, _) = Self.converged(30, seed: 7)
            for round in 0..<5 {
                simulation.stall(3 + round, for: 3_000)
                simulation.run(until: simulation.now + 10_000)
            }
            let all = simulation.upNodes
            return Findings(falseFailures: Self.falseFailures(simulation), allAlive: simulation.everyone(all, sees: all, as: .alive))
        }
        #expect(found.falseFailures.isEmpty)
        #expect(found.allAlive)
    }

    @Test func theSameSeedGivesTheSameRun() async {
        let runs = await simulate {
            func run(_ seed: UInt64) -> [UInt64] {
                let (simulation, _) = Self.converged(50, seed: seed)
                simulation.crash(3)
                simulation.leave(4)
                simulation.partition { $0 < 10 ? 1 : 0 }
                simulation.run(until: simulation.now + 10_000)
                simulation.heal()
                simulation.run(until: simulation.now + 10_000)
                return [simulation.traceDigest, UInt64(simulation.changes)]
            }
            return [run(11), run(11), run(12)]
        }
        #expect(runs[0] == runs[1])
        #expect(runs[0][0] != runs[2][0])
    }
}


