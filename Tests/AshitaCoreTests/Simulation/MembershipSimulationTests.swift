import AshitaCore
import Testing

/// The membership and overlay rules under the seeded simulator: many nodes, a virtual clock, a network with delay,
/// loss, partitions and stalls. Times here are virtual milliseconds.
@Suite struct MembershipSimulationTests {
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

    @Test func aThousandNodesConvergeWithBoundedLinksAndAConnectedOverlay() {
        let (simulation, took) = Self.converged(1000, seed: 1)
        #expect(took != nil, "1,000 nodes did not all see each other alive within 30 s")
        #expect(simulation.failureMarks.isEmpty)
        let all = Array(0..<1000)
        #expect(simulation.linksConnect(all))
        for index in all {
            let links = simulation.membership(index)!.linkedPeers.count
            #expect(links >= 1 && links <= simulation.configuration.maxLinks)
        }
    }

    @Test func aKilledNodeIsFailedEverywhereAsSoonAsItsLinksClose() {
        let (simulation, took) = Self.converged(60, seed: 2)
        #expect(took != nil)
        simulation.crash(17)
        let others = simulation.upNodes
        let seen = simulation.run(for: 5_000, step: 10) { simulation.everyone(others, seesGone: 17) }
        #expect(seen != nil && seen! <= 1_000, "all saw the killed node gone after \(seen.map(String.init) ?? "never") ms")
        #expect(simulation.everyone(others, sees: others, as: .alive))
        #expect(simulation.failureMarks.allSatisfy { $0.subject == 17 })
    }

    @Test func aGracefulLeaveIsSeenByAllAtOnce() {
        let (simulation, _) = Self.converged(60, seed: 3)
        simulation.leave(5)
        let others = simulation.upNodes
        let seen = simulation.run(for: 2_000, step: 5) { simulation.everyone(others, sees: [5], as: .left) }
        #expect(seen != nil && seen! <= 100)
        #expect(simulation.failureMarks.isEmpty)
    }

    @Test func aNodeCutOffSilentlyIsFoundByPingsAndOnlyIt() {
        let (simulation, _) = Self.converged(30, seed: 4)
        simulation.partition { $0 == 9 ? 1 : 0 }
        let others = simulation.upNodes.filter { $0 != 9 }
        let seen = simulation.run(for: 30_000, step: 50) { simulation.everyone(others, seesGone: 9) }
        #expect(seen != nil, "the cut-off node was not found")
        #expect(simulation.failureMarks.allSatisfy { $0.subject == 9 || $0.observer == 9 })
    }

    @Test func aSplitMeshHealsAndConvergesToOneView() {
        let (simulation, _) = Self.converged(40, seed: 5)
        simulation.partition { $0 % 2 }
        let even = simulation.upNodes.filter { $0 % 2 == 0 }
        let odd = simulation.upNodes.filter { $0 % 2 == 1 }
        let split = simulation.run(for: 60_000, step: 100) {
            odd.allSatisfy { simulation.everyone(even, seesGone: $0) } && even.allSatisfy { simulation.everyone(odd, seesGone: $0) }
        }
        #expect(split != nil, "the halves did not see each other gone")
        simulation.heal()
        let all = simulation.upNodes
        let healed = simulation.run(for: 60_000, step: 100) { simulation.everyone(all, sees: all, as: .alive) }
        #expect(healed != nil, "the mesh did not heal")
        #expect(simulation.linksConnect(all))
    }

    @Test func noAnsweringNodeIsFailedUnderLossAndJitter() {
        let conditions = NetworkConditions(latency: 5, jitter: 100, loss: 0.10)
        let (simulation, took) = Self.converged(40, seed: 6, conditions: conditions, limit: 60_000)
        #expect(took != nil)
        simulation.run(until: simulation.now + 120_000)
        #expect(simulation.failureMarks.isEmpty, "\(simulation.failureMarks.count) false failures")
        let all = simulation.upNodes
        #expect(simulation.everyone(all, sees: all, as: .alive))
    }

    @Test func aNodeStalledForSecondsIsNotFailed() {
        let (simulation, _) = Self.converged(30, seed: 7)
        for round in 0..<5 {
            simulation.stall(3 + round, for: 3_000)
            simulation.run(until: simulation.now + 10_000)
        }
        #expect(simulation.failureMarks.isEmpty, "\(simulation.failureMarks.map { "\($0.observer) failed \($0.subject)" })")
        let all = simulation.upNodes
        #expect(simulation.everyone(all, sees: all, as: .alive))
    }

    @Test func theSameSeedGivesTheSameRun() {
        func run(_ seed: UInt64) -> (UInt64, Int) {
            let (simulation, _) = Self.converged(50, seed: seed)
            simulation.crash(3)
            simulation.leave(4)
            simulation.partition { $0 < 10 ? 1 : 0 }
            simulation.run(until: simulation.now + 10_000)
            simulation.heal()
            simulation.run(until: simulation.now + 10_000)
            return (simulation.traceDigest, simulation.changes)
        }
        let first = run(11)
        #expect(first == run(11))
        #expect(first.0 != run(12).0)
    }
}
