import AshitaClient
import AshitaCore
import AshitaSystem
import Foundation
import Synchronization
import LoopbackSockets

/// What every member of a cluster has heard about every other, as its event stream told it, and when.
final class MeshViews: @unchecked Sendable {
    // @unchecked: every field is touched under `lock` only.
    private let lock = NSLock()
    private var states: [Int: [String: String]] = [:]
    /// When each observer first held each member alive (for `ASHITA_BENCH_TRACE`).
    private var firstAlive: [Int: [String: ContinuousClock.Instant]] = [:]
    /// Every state each observer's stream gave each member, and when: what a slow detection is explained by.
    private var history: [Int: [String: [(state: String, at: ContinuousClock.Instant)]]] = [:]

    func set(_ observer: Int, _ member: String, _ state: String) {
        lock.lock()
        // A suspicion is history only: the member is still alive to its observer.
        if state != "suspect" { states[observer, default: [:]][member] = state }
        history[observer, default: [:]][member, default: []].append((state, .now))
        if state == "alive", firstAlive[observer]?[member] == nil { firstAlive[observer, default: [:]][member] = .now }
        lock.unlock()
    }

    /// The observers that last held `member` gone (failed or left), slowest first, each with what its stream said of
    /// `member` since `start` (ms after `start`).
    func lastToSeeGone(_ member: String, among observers: [Int], from start: ContinuousClock.Instant, count: Int = 3) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        let rows = observers.map { observer -> (ContinuousClock.Instant, String) in
            let since = (history[observer]?[member] ?? []).filter { $0.at >= start }
            let gone = since.first { $0.state == "failed" || $0.state == "left" }?.at ?? .now
            let events = since.map { "\($0.state) at \(Int(ms($0.at - start)))" }.joined(separator: ", ")
            return (gone, "observer \(observer): \(events.isEmpty ? "nothing" : events)")
        }
        return rows.sorted { $0.0 > $1.0 }.prefix(count).map(\.1)
    }

    /// When the first observer suspected `member`, and when the first and the last held it gone (ms after `start`).
    func detection(of member: String, among observers: [Int], from start: ContinuousClock.Instant) -> String {
        lock.lock()
        defer { lock.unlock() }
        func first(_ states: Set<String>) -> [Double] {
            observers.compactMap { observer in
                (history[observer]?[member] ?? []).first { $0.at >= start && states.contains($0.state) }.map { ms($0.at - start) }
            }
        }
        func text(_ milliseconds: Double?) -> String { milliseconds.map { String(Int($0)) } ?? "never" }
        let suspected = first(["suspect"]), gone = first(["failed", "left"])
        return "first suspected at \(text(suspected.min())) ms by \(suspected.count) of \(observers.count); "
            + "first gone at \(text(gone.min())), last at \(text(gone.max())) ms"
    }

    /// When the first member learnt of each other member, then per observer when it had every member in
    /// `members` alive (ms after `start`) and the last member it learnt of: the slowest observers first.
    func trace(from start: ContinuousClock.Instant, members: [String]) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        func ms(_ instant: ContinuousClock.Instant?) -> String {
            guard let instant else { return "never" }
            return String(Int(ashita_bench.ms(instant - start)))
        }
        let rows = firstAlive.keys.sorted().map { observer -> (ContinuousClock.Instant, String) in
            let seen = members.map { ($0, firstAlive[observer]?[$0]) }
            let last = seen.max { ($0.1 ?? start) < ($1.1 ?? start) }!
            return (last.1 ?? start, "observer \(observer) all at \(ms(last.1)) ms; last learnt \(last.0)")
        }
        let seed = members.compactMap { firstAlive[0]?[$0] }.sorted().map { ms($0) }
        return ["the first member learnt of the others at (ms): \(seed.joined(separator: " "))"] + rows.sorted { $0.0 > $1.0 }.map(\.1)
    }

    /// Whether every observer holds every member in `state` ("alive", or "gone": failed or left).
    func all(_ observers: [Int], see members: [String], as state: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return observers.allSatisfy { observer in
            members.allSatisfy { member in
                let held = states[observer]?[member]
                return state == "gone" ? (held == "failed" || held == "left") : held == state
            }
        }
    }

    func forget(_ observer: Int) {
        lock.lock()
        states[observer] = nil
        lock.unlock()
    }
}

/// A cluster of one system's members, each its own process on 127.0.0.1, with their event streams.
protocol MeshCluster: AnyObject, Sendable {
    var views: MeshViews { get }
    var names: [String] { get }
    var pids: [Int32] { get }
    /// Starts one more member, joined to nobody; returns its index. A `silenceable` one runs under
    /// `SilentDrop.launcher`.
    func add(silenceable: Bool) async throws -> Int
    func join(_ index: Int, to target: Int) async throws
    func kill(_ index: Int)
    func leave(_ index: Int) async
    func stopAll()
}

extension MeshCluster {
    func add() async throws -> Int { try await add(silenceable: false) }
}

/// `ashita serve` processes: events from `/api/v1/events`, joins through `POST /api/v1/join`.
// @unchecked: members are added and stopped by the bench's one task; concurrent joins only read the arrays.
final class AshitaCluster: MeshCluster, @unchecked Sendable {
    let views = MeshViews()
    private(set) var names: [String] = []
    private var nodes: [NodeProcess] = []
    /// Raised when the cluster stops: every event stream's thread ends its transfer.
    private let stopStreams = Counter()
    var pids: [Int32] { nodes.map(\.process.processIdentifier) }

    func add(silenceable: Bool) async throws -> Int {
        let node = try NodeProcess(extra: ["--log-level", "error"], launcher: silenceable ? SilentDrop.launcher : [])
        let index = nodes.count
        nodes.append(node)
        let status = try await CurlHTTPClient().get("http://127.0.0.1:\(node.port)/api/v1/node")
        let object = try JSONSerialization.jsonObject(with: Data(status.body)) as? [String: Any]
        guard let id = object?["id"] as? String else { throw BenchError("no id from the node on \(node.port)") }
        names.append(id)
        let views = self.views
        let url = "http://127.0.0.1:\(node.port)/api/v1/events?types=memberJoined,memberSuspected,memberFailed,memberLeft"
        let opened = AsyncStream<Void>.makeStream()
        let stop = stopStreams
        // Read on a thread of its own and recorded there as each event arrives, as Serf's stream is: the time
        // taken is the node's, not that of a task waiting its turn on the bench's two pool threads while 60
        // nodes share the cores (the bench's own hop, measured, bunched arrivals by up to 90 ms at N = 30).
        detachThread {
            var parser = ServerSentEventParser()
            _ = try? CurlHTTPClient().stream(url, headers: ["Accept: text/event-stream"], shouldStop: { stop.value.load(ordering: .relaxed) > 0 }) { bytes in
                guard let items = try? parser.feed(bytes) else { return false }
                for item in items {
                    if case .comment = item { opened.continuation.yield() }
                    guard case .event(let event) = item,
                        let object = try? JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any],
                        let content = object["content"] as? [String: Any], let member = content["id"] as? String
                    else { continue }
                    let state = ["memberJoined": "alive", "memberSuspected": "suspect", "memberFailed": "failed", "memberLeft": "left"][event.event ?? ""] ?? "?"
                    views.set(index, member, state)
                }
                return stop.value.load(ordering: .relaxed) == 0
            }
            opened.continuation.finish()
        }
        views.set(index, id, "alive")
        for await _ in opened.stream { break }
        return index
    }

    func join(_ index: Int, to target: Int) async throws {
        let token = try String(contentsOfFile: "\(nodes[index].dataDirectory)/operator-token", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let answer = try await CurlHTTPClient().post(
            "http://127.0.0.1:\(nodes[index].port)/api/v1/join?node=127.0.0.1:\(nodes[target].port)",
            headers: ["Authorization: Bearer \(token)"])
        guard answer.status == 202 else { throw BenchError("join answered \(answer.status)") }
    }

    func kill(_ index: Int) {
        Foundation.kill(nodes[index].process.processIdentifier, SIGKILL)
        views.forget(index)
    }

    func leave(_ index: Int) async {
        nodes[index].process.terminate()
        views.forget(index)
    }

    func stopAll() {
        stopStreams.value.store(1, ordering: .relaxed)
        for node in nodes { node.stop() }
    }
}

/// `serf agent` processes (Debian's `serf`): events from each agent's RPC stream, joins and leaves through the
/// `serf` command.
// @unchecked: members are added and stopped by the bench's one task; concurrent joins only read the arrays.
final class SerfCluster: MeshCluster, @unchecked Sendable {
    let views = MeshViews()
    private(set) var names: [String] = []
    private var agents: [(process: Process, bind: Int, rpc: Int)] = []
    var pids: [Int32] { agents.map(\.process.processIdentifier) }

    static func freePort() throws -> Int {
        let (fd, port) = try LoopbackSocket.listen(backlog: 1)
        close(fd)
        return port
    }

    func add(silenceable: Bool) async throws -> Int {
        let (bind, rpc) = (try Self.freePort(), try Self.freePort())
        let index = agents.count
        let name = "n\(index)-\(bind)"
        let process = Process()
        let launcher = silenceable ? SilentDrop.launcher : []
        process.executableURL = URL(fileURLWithPath: launcher.first ?? "/usr/bin/serf")
        process.arguments = launcher.dropFirst() + (launcher.isEmpty ? [] : ["/usr/bin/serf"]) + ["agent", "-node=\(name)", "-bind=127.0.0.1:\(bind)", "-rpc-addr=127.0.0.1:\(rpc)", "-log-level=err"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        agents.append((process, bind, rpc))
        names.append(name)
        let deadline = ContinuousClock.now + .seconds(20)
        while LoopbackSocket.connect(port: rpc).map({ close($0) }) == nil {
            guard ContinuousClock.now < deadline, process.isRunning else { throw BenchError("serf agent \(name) did not start") }
            try await Task.sleep(for: .milliseconds(5))
        }
        let stream = try SerfEventStream(rpcPort: rpc)
        let views = self.views
        stream.run { type, members in
            let state = ["member-join": "alive", "member-failed": "failed", "member-leave": "left"][type] ?? "?"
            for member in members { views.set(index, member, state) }
        }
        views.set(index, name, "alive")
        return index
    }

    private func serf(_ arguments: [String]) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/serf")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            process.terminationHandler = { _ in done.resume() }
        }
    }

    func join(_ index: Int, to target: Int) async throws {
        try await serf(["join", "-rpc-addr=127.0.0.1:\(agents[index].rpc)", "127.0.0.1:\(agents[target].bind)"])
    }

    func kill(_ index: Int) {
        Foundation.kill(agents[index].process.processIdentifier, SIGKILL)
        views.forget(index)
    }

    func leave(_ index: Int) async {
        try? await serf(["leave", "-rpc-addr=127.0.0.1:\(agents[index].rpc)"])
        views.forget(index)
    }

    func stopAll() {
        for agent in agents where agent.process.isRunning {
            agent.process.terminate()
            agent.process.waitUntilExit()
        }
    }
}

/// The mesh benchmark: for each system and size, fresh clusters; times until all members see what happened.
struct MeshFigures {
    var convergeFirst: [Double] = []
    var convergeRandom: [Double] = []
    var newcomer: [Double] = []
    var killed: [Double] = []
    var left: [Double] = []
    /// Until all see a member whose every packet is dropped (`SilentDrop`); empty when that cannot be done here.
    var silent: [Double] = []
    var idleRSS: [Double] = []
    var idleCPU: [Double] = []
}

func measureMesh(_ make: () -> any MeshCluster, size: Int, runs: Int, seed: UInt64) async throws -> MeshFigures {
    var figures = MeshFigures()
    var random = SeededRandom(seed: seed)
    /// Milliseconds from `start` until `condition` holds. A system that takes longer than `limit` is counted at the
    /// limit and said so, and the run goes on (Serf's random joins at N = 60 took 66–86 s here, once more than 120).
    func wait(from start: ContinuousClock.Instant, limit: Duration = .seconds(300), _ condition: () -> Bool) async throws -> Double {
        while !condition() {
            guard ContinuousClock.now - start < limit else {
                say("note: N = \(size): no convergence within \(limit); counted as \(limit)")
                break
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        return Double((ContinuousClock.now - start).components.attoseconds) / 1e15
            + Double((ContinuousClock.now - start).components.seconds) * 1000
    }
    let tracing = ProcessInfo.processInfo.environment["ASHITA_BENCH_TRACE"] != nil
    for _ in 0..<runs {
        for mode in ["first", "random"] {
            let cluster = make()
            defer { cluster.stopAll() }
            for _ in 0..<size { _ = try await cluster.add() }
            let all = Array(0..<size)
            if tracing {
                // Time to attach a profiler to the join alone (`perf record -a` once this line shows).
                say("trace: \(size) members started; joining in 3 s")
                try await Task.sleep(for: .seconds(3))
            }
            let cpuBefore = cluster.pids.map { NodeProcess.cpuSeconds(pid: $0) }.reduce(0, +)
            let benchBefore = NodeProcess.cpuSeconds(pid: getpid())
            let start = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 1..<size {
                    let target = mode == "first" ? 0 : Int.random(in: 0..<index, using: &random)
                    group.addTask { try await cluster.join(index, to: target) }
                }
                try await group.waitForAll()
            }
            let joinsAnswered = ContinuousClock.now - start
            let took = try await wait(from: start) { cluster.views.all(all, see: cluster.names, as: "alive") }
            // A join far slower than its size's usual (a few random joins of 60 took 2.7–3.3 s, most 0.8–1.1 s):
            // who was last, and what it learnt last.
            if took > Double(size) * 30, cluster is AshitaCluster, !tracing {
                say("note: N = \(size), \(mode): all saw all after \(Int(took)) ms; slowest:\n  "
                    + cluster.views.trace(from: start, members: cluster.names).prefix(6).joined(separator: "\n  "))
            }
            if tracing {
                let cpu = cluster.pids.map { NodeProcess.cpuSeconds(pid: $0) }.reduce(0, +) - cpuBefore
                let bench = NodeProcess.cpuSeconds(pid: getpid()) - benchBefore
                say("CPU of all \(size) members meanwhile: \(fmt(cpu, 2)) s, of the bench \(fmt(bench, 2)) s; every join request answered after \(joinsAnswered)")
                say("trace, \(mode), N = \(size):\n  " + cluster.views.trace(from: start, members: cluster.names).prefix(12).joined(separator: "\n  "))
            }
            if mode == "first" {
                figures.convergeFirst.append(took)
                continue
            }
            figures.convergeRandom.append(took)
            // Idle: RSS and CPU per member over 5 s.
            try await Task.sleep(for: .seconds(1))
            let before = cluster.pids.map { NodeProcess.cpuSeconds(pid: $0) }
            try await Task.sleep(for: .seconds(5))
            let after = cluster.pids.map { NodeProcess.cpuSeconds(pid: $0) }
            figures.idleCPU.append(zip(before, after).map { ($1 - $0) / 5 * 100 }.reduce(0, +) / Double(size))
            figures.idleRSS.append(cluster.pids.compactMap { try? NodeProcess.memory(pid: $0).rss }.reduce(0, +) / Double(size))
            // A newcomer joins a random member.
            let newcomer = try await cluster.add()
            let joining = ContinuousClock.now
            try await cluster.join(newcomer, to: Int.random(in: 0..<size, using: &random))
            let everyone = Array(0...newcomer)
            figures.newcomer.append(try await wait(from: joining) { cluster.views.all(everyone, see: [cluster.names[newcomer]], as: "alive") })
            // One killed, one leaving.
            let victim = Int.random(in: 1..<newcomer, using: &random)
            let killing = ContinuousClock.now
            cluster.kill(victim)
            let rest = everyone.filter { $0 != victim }
            let killSeen = try await wait(from: killing) { cluster.views.all(rest, see: [cluster.names[victim]], as: "gone") }
            figures.killed.append(killSeen)
            if killSeen > 1_000 {
                // Most SIGKILLs are seen by all in about 0.35 s; now and then one takes 3 s: who was last, and how.
                say("note: N = \(size): the SIGKILLed member \(cluster.names[victim]) was seen gone by all after \(Int(killSeen)) ms; last: "
                    + cluster.views.lastToSeeGone(cluster.names[victim], among: rest, from: killing).joined(separator: "; "))
            }
            let leaver = rest.filter { $0 != 0 }.randomElement(using: &random)!
            let remaining = rest.filter { $0 != leaver }
            let leaving = ContinuousClock.now
            await cluster.leave(leaver)
            figures.left.append(try await wait(from: leaving) { cluster.views.all(remaining, see: [cluster.names[leaver]], as: "gone") })
            // One more, whose packets are then all dropped.
            guard SilentDrop.available else { continue }
            let leftovers = SilentDrop.removeLeftovers()
            if leftovers > 0 { say("note: removed \(leftovers) DROP rule(s) for user nobody that an earlier run left behind") }
            let silent = try await cluster.add(silenceable: true)
            let joiningSilent = ContinuousClock.now
            try await cluster.join(silent, to: remaining.randomElement(using: &random)!)
            _ = try await wait(from: joiningSilent) { cluster.views.all(remaining + [silent], see: [cluster.names[silent]], as: "alive") }
            if tracing { say("trace: silencing \(cluster.names[silent]) now") }
            try SilentDrop.drop(true)
            defer { try? SilentDrop.drop(false) }
            let silencing = ContinuousClock.now
            cluster.views.forget(silent)
            figures.silent.append(try await wait(from: silencing) { cluster.views.all(remaining, see: [cluster.names[silent]], as: "gone") })
            if tracing {
                say("trace, N = \(size), silenced after \(Int(figures.silent.last!)) ms: " + cluster.views.detection(of: cluster.names[silent], among: remaining, from: silencing))
            }
        }
    }
    return figures
}
