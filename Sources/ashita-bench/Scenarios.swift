import AshitaClient
import NIOCore
import Foundation
import Synchronization

/// How a scenario gets its node: `ashita serve` by default, the original for side-by-side runs.
typealias NodeLauncher = @Sendable () async throws -> NodeProcess
let ashitaNode: NodeLauncher = { try NodeProcess() }

/// Idle memory: a node 6 s after it started (past its first quiet second after 5 s, when it gives back what only
/// the start used), and again 1 s after it served its page once.
struct IdleMemory {
    var rss: Double
    var anonymous: Double
    var afterPage: Double
}

func idleMemory(_ launch: NodeLauncher = ashitaNode) async throws -> IdleMemory {
    let node = try await launch()
    defer { node.stop() }
    try await Task.sleep(for: .seconds(6))
    let idle = try node.memory()
    _ = try await CurlHTTPClient().get("http://127.0.0.1:\(node.port)/")
    try await Task.sleep(for: .seconds(1))
    return IdleMemory(rss: idle.rss, anonymous: idle.anonymous, afterPage: try node.memory().rss)
}

struct AuthRun {
    var allAuthenticated: Duration
    var allAnnounced: Duration
    var rss: Double
    var peak: Double
    var anonymous: Double
    var nodeCPU: Double
    /// RSS 6 s after the last announcement, the clients still connected: after the node's periodic
    /// `malloc_trim` (every 5 s) has returned what the burst freed.
    var settledRSS: Double
}

/// `clients` WebSockets connect to one node and each sends `auth` with a home of its own. Every new home is
/// announced to every client already there, so all is delivered when n·(n−1)/2 `nodeDiscovered` have arrived.
/// With `settle`, the clients come to a node that has been up that long (past its release of start-up pages, as a
/// node that has been running a while), not to one that has just started.
func authenticateMany(_ clients: Int, _ launch: NodeLauncher = ashitaNode, settle: Duration = .zero) async throws -> AuthRun {
    let node = try await launch()
    defer { node.stop() }
    if settle > .zero { try await Task.sleep(for: settle) }
    let connected = Counter()
    let discovered = Counter()
    let port = node.port
    let expected = clients * (clients - 1) / 2
    let start = ContinuousClock.now
    // Counting on the event loop, without queueing or decoding: the clients should cost little of the CPU
    // they share with the node. ashita's frames end in `"type":"<type>"}`, the original's begin with
    // `{"type":"<type>"`.
    let counter: @Sendable (ByteBuffer) -> Bool = { frame in
        let view = frame.readableBytesView
        if view.count > 17, view.suffix(16).elementsEqual("nodeDiscovered\"}".utf8)
            || view.starts(with: #"{"type":"nodeDiscovered""#.utf8)
        {
            discovered.value.add(1, ordering: .relaxed)
        } else if view.count > 16, view.suffix(15).elementsEqual("nodeConnected\"}".utf8)
            || view.starts(with: #"{"type":"nodeConnected""#.utf8)
        {
            connected.value.add(1, ordering: .relaxed)
        }
        return true
    }
    // Connect and send auth, at most 128 handshakes at a time, as a crowd of browsers would arrive.
    let peers = try await connectMany(clients, atOnce: 128) { i in
        let peer = try await WebSocketPeer.connect(host: "127.0.0.1", port: port, timeout: .seconds(30), textHandler: counter)
        try await peer.send(#"{"type":"auth","node":"10.\#(i / 250).\#(i % 250).1:8000","content":{}}"#)
        return peer
    }
    // Watch the counters (a benchmark: a 1 ms poll costs nothing worth measuring).
    var allAuthenticated: Duration?
    while discovered.value.load(ordering: .relaxed) < expected {
        if allAuthenticated == nil && connected.value.load(ordering: .relaxed) == clients { allAuthenticated = .now - start }
        try await Task.sleep(for: .milliseconds(1))
    }
    let total = ContinuousClock.now - start
    // Memory and CPU as the last announcement arrives, all 1,000 still connected: the burst's own cost, not
    // that of the departures that follow (each told to every client still there).
    let memory = try node.memory()
    let cpu = node.cpuSeconds()
    try await Task.sleep(for: .seconds(6))
    let settled = try node.memory()
    for peer in peers { await peer.abort() }
    return AuthRun(
        allAuthenticated: allAuthenticated ?? total, allAnnounced: total, rss: memory.rss, peak: memory.peak, anonymous: memory.anonymous,
        nodeCPU: cpu, settledRSS: settled.rss)
}

/// With `listeners` observers on a node, the time from a newcomer's `auth` to the last observer receiving its
/// `nodeDiscovered`, over `rounds` newcomers (each leaves before the next), on raw sockets stamped by the kernel
/// (see `FanOutProbe`).
func fanOutLatency(listeners: Int, rounds: Int, _ launch: NodeLauncher = ashitaNode) async throws -> [Duration] {
    let node = try await launch()
    defer { node.stop() }
    return try await FanOutProbe.measure(port: node.port, listeners: listeners, rounds: rounds)
}

/// `count` connections made by `connect(i)`, at most `atOnce` handshakes at a time, as a crowd arrives.
func connectMany(
    _ count: Int, atOnce: Int, _ connect: @escaping @Sendable (Int) async throws -> WebSocketPeer
) async throws -> [WebSocketPeer] {
    var peers: [WebSocketPeer] = []
    try await withThrowingTaskGroup(of: WebSocketPeer.self) { group in
        for i in 0..<count {
            if i >= atOnce, let peer = try await group.next() { peers.append(peer) }
            group.addTask { try await connect(i) }
        }
        for try await peer in group { peers.append(peer) }
    }
    return peers
}

final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
