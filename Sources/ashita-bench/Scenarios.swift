import AshitaClient
import Foundation
import Synchronization

/// Idle memory of a node that has just started listening and answered one request.
func idleMemory() async throws -> Double {
    let node = try NodeProcess()
    defer { node.stop() }
    _ = try await CurlHTTPClient().get("http://127.0.0.1:\(node.port)/healthz")
    try await Task.sleep(for: .seconds(1))
    return try node.memory().rss
}

struct AuthRun {
    var allAuthenticated: Duration
    var allAnnounced: Duration
    var rss: Double
    var peak: Double
}

/// `clients` WebSockets connect to one node and each sends `auth` with a home of its own. Every new home is
/// announced to every client already there, so all is delivered when n·(n−1)/2 `nodeDiscovered` have arrived.
func authenticateMany(_ clients: Int) async throws -> AuthRun {
    let node = try NodeProcess()
    defer { node.stop() }
    let connected = Counter()
    let discovered = Counter()
    let port = node.port
    let expected = clients * (clients - 1) / 2
    let start = ContinuousClock.now
    var allAuthenticated: Duration?
    try await withThrowingTaskGroup(of: Void.self) { group in
        for i in 0..<clients {
            group.addTask {
                let peer = try await WebSocketPeer.connect(host: "127.0.0.1", port: port, timeout: .seconds(30))
                try await peer.send(#"{"type":"auth","node":"10.\#(i / 250).\#(i % 250).1:8000","content":{}}"#)
                while let message = await peer.next() {
                    guard case .text(let text) = message else { break }
                    if text.contains("\"nodeDiscovered\"") {
                        if discovered.value.add(1, ordering: .relaxed).newValue == expected { break }
                    } else if text.contains("\"nodeConnected\"") {
                        connected.value.add(1, ordering: .relaxed)
                    }
                    if discovered.value.load(ordering: .relaxed) == expected { break }
                }
                await peer.abort()
            }
            // At most 128 handshakes at a time, as a crowd of browsers would arrive.
            if i >= 128 { try await group.next() }
        }
        // Wait for the last announcement while watching when the last client was authenticated.
        while discovered.value.load(ordering: .relaxed) < expected {
            if allAuthenticated == nil && connected.value.load(ordering: .relaxed) == clients { allAuthenticated = .now - start }
            try await Task.sleep(for: .milliseconds(2))
        }
        group.cancelAll()
    }
    let total = ContinuousClock.now - start
    let memory = try node.memory()
    return AuthRun(allAuthenticated: allAuthenticated ?? total, allAnnounced: total, rss: memory.rss, peak: memory.peak)
}

/// With `listeners` observers on a node, the time from a newcomer's `auth` to the last observer receiving its
/// `nodeDiscovered`, over `rounds` newcomers (each leaves before the next, and its `nodeLeft` is drained).
func fanOutLatency(listeners: Int, rounds: Int) async throws -> [Duration] {
    let node = try NodeProcess()
    defer { node.stop() }
    var observers: [WebSocketPeer] = []
    for _ in 0..<listeners {
        let peer = try await WebSocketPeer.connect(host: "127.0.0.1", port: node.port)
        try await peer.send(#"{"type":"auth","content":{}}"#)
        _ = await peer.next()  // nodeConnected
        _ = await peer.next()  // nodeList
        observers.append(peer)
    }
    var latencies: [Duration] = []
    for round in 0..<rounds {
        let newcomer = try await WebSocketPeer.connect(host: "127.0.0.1", port: node.port)
        let sent = ContinuousClock.now
        try await newcomer.send(#"{"type":"auth","node":"fan-\#(round).example:1","content":{}}"#)
        let last = try await withThrowingTaskGroup(of: ContinuousClock.Instant.self) { group in
            for observer in observers {
                group.addTask {
                    guard let arrival = await observer.nextArrival(), case .text(let t) = arrival.message,
                        t.contains("fan-\(round).example:1")
                    else { throw BenchError("an observer missed the announcement of round \(round)") }
                    return arrival.at
                }
            }
            return try await group.reduce(sent) { max($0, $1) }
        }
        latencies.append(last - sent)
        await newcomer.close()
        for observer in observers { _ = await observer.next() }  // its nodeLeft
    }
    for observer in observers { await observer.abort() }
    return latencies
}

final class Counter: Sendable {
    let value = Atomic<Int>(0)
}
