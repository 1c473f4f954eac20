import AshitaClient
import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// The load and soak run: 10,000 connections held on one node, 1,000 clients joining and leaving in rounds,
/// one reader that never reads, one client flooding, and fan-out latency measured meanwhile. Every loop is
/// bounded; the run stops by itself.
struct SoakReport {
    var connections: Int
    var rssBeforeChurn: Double
    var rssAfterChurn: Double
    var peakRSS: Double
    var latencies: [Duration]
    var wellBehavedClosed: Int
    var floodCloseCode: UInt16?
    var slowReaderClosed: Bool
    var nodeCPU: Double
}

func soak(connections: Int, churn: Int, churnRounds: Int, observers: Int, probes: Int) async throws -> SoakReport {
    let node = try NodeProcess(extra: [
        "--max-clients", "\(connections + churn + 100)", "--auth-timeout", "3600", "--max-outbound-bytes", "65536",
    ])
    defer { node.stop() }
    let port = node.port
    let closedByNode = Counter()
    // Well-behaved clients count any close the node sends them; nothing else is read on the event loop.
    let watcher: @Sendable (ByteBuffer) -> Bool = { _ in true }

    // 1. Idle connections (WebSockets that have not sent auth: the cheapest kind a crowd holds open),
    //    then observers that hear every announcement.
    say("soak: opening \(connections) connections…")
    let idle = try await connectMany(connections - observers, atOnce: 128) { _ in
        try await WebSocketPeer.connect(host: "127.0.0.1", port: port, timeout: .seconds(60), textHandler: watcher)
    }
    var listening: [WebSocketPeer] = []
    for _ in 0..<observers {
        let peer = try await WebSocketPeer.connect(host: "127.0.0.1", port: port)
        try await peer.send(#"{"type":"auth","content":{}}"#)
        _ = await peer.next()
        _ = await peer.next()
        listening.append(peer)
    }
    try await Task.sleep(for: .seconds(6))
    let before = try node.memory()
    say("soak: \(idle.count + listening.count) connections open; node RSS \(fmt(before.rss)) MiB")

    // 2. A reader that stops reading, and a client that floods.
    let slow = try await neverReadingClient(port: port)
    let flooder = try await WebSocketPeer.connect(host: "127.0.0.1", port: port)
    let flood = Task {
        for _ in 0..<200_000 {
            do { try await flooder.send(#"{"type":"ping"}"#) } catch { return }
        }
    }

    // 3. Churn: `churn` clients join with homes of their own, then all leave; `churnRounds` times.
    var latencies: [Duration] = []
    for round in 0..<churnRounds {
        let joined = try await connectMany(churn, atOnce: 64) { i in
            let peer = try await WebSocketPeer.connect(host: "127.0.0.1", port: port, timeout: .seconds(60), textHandler: watcher)
            try await peer.send(#"{"type":"auth","node":"churn-\#(round)-\#(i).example:1","content":{}}"#)
            return peer
        }
        // The never-reading client asks for the (now long) peer list again and again, at the allowed rate.
        for _ in 0..<10 { try? await slow.writeAndFlush(maskedAuthFrame()) }
        // Fan-out latency while the churners and everything else are connected.
        for probe in 0..<probes {
            let newcomer = try await WebSocketPeer.connect(host: "127.0.0.1", port: port)
            let home = "probe-\(round)-\(probe).example:1"
            let sent = ContinuousClock.now
            try await newcomer.send(#"{"type":"auth","node":"\#(home)","content":{}}"#)
            let last = try await withThrowingTaskGroup(of: ContinuousClock.Instant.self) { group in
                for observer in listening {
                    group.addTask {
                        while let arrival = await observer.nextArrival() {
                            if case .text(let t) = arrival.message, t.contains(home), t.contains("nodeDiscovered") { return arrival.at }
                            if case .close = arrival.message { closedByNode.value.add(1, ordering: .relaxed) }
                        }
                        throw BenchError("an observer's connection ended")
                    }
                }
                return try await group.reduce(sent) { max($0, $1) }
            }
            latencies.append(last - sent)
            await newcomer.close()
        }
        for peer in joined { await peer.close(code: 1000, timeout: .seconds(5)) }
        say("soak: churn round \(round + 1)/\(churnRounds) done; node RSS \(fmt(try node.memory().rss)) MiB")
    }
    flood.cancel()
    _ = await flood.value
    var floodCode: UInt16?
    while let message = await flooder.next() {
        if case .close(let code, _) = message { floodCode = code; break }
    }

    // 4. After churn: let the node settle (it returns freed memory every 5 s), measure.
    try await Task.sleep(for: .seconds(12))
    let after = try node.memory()
    let slowClosed = await wasClosed(slow)
    // Did the node close any idle client? A close would have ended its connection.
    let idleClosed = idle.count(where: { !$0.isOpen })
    for peer in idle + listening { await peer.abort() }
    return SoakReport(
        connections: idle.count + listening.count, rssBeforeChurn: before.rss, rssAfterChurn: after.rss,
        peakRSS: after.peak, latencies: latencies,
        wellBehavedClosed: idleClosed + closedByNode.value.load(ordering: .relaxed), floodCloseCode: floodCode,
        slowReaderClosed: slowClosed, nodeCPU: node.cpuSeconds())
}

/// A WebSocket client that upgrades, authenticates as an observer, and never reads again: the socket's
/// automatic reads are off, so what the node sends piles up in the kernel and then in the node.
private func neverReadingClient(port: Int) async throws -> any Channel {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelOption(.autoRead, value: false)
        // A small receive window, so the kernel holds little of what the node sends it.
        .channelOption(.socketOption(.so_rcvbuf), value: 4096)
        .connect(host: "127.0.0.1", port: port).get()
    var request = ByteBuffer(string:
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    request.writeImmutableBuffer(maskedAuthFrame())
    try await channel.writeAndFlush(request)
    return channel
}

private func maskedAuthFrame() -> ByteBuffer {
    let auth = Array(#"{"type":"auth","content":{}}"#.utf8)
    let mask: [UInt8] = [7, 7, 7, 7]
    return ByteBuffer(bytes: [0x81, 0x80 | UInt8(auth.count)] + mask + auth.map { $0 ^ 7 })
}

/// Reads what a never-reading client was sent: if the node closed it, the connection ends within seconds.
private func wasClosed(_ channel: any Channel) async -> Bool {
    _ = try? await channel.setOption(.autoRead, value: true).get()
    channel.read()
    let (ended, signal) = AsyncStream.makeStream(of: Bool.self)
    channel.closeFuture.whenComplete { _ in signal.yield(true) }
    channel.eventLoop.scheduleTask(in: .seconds(5)) { signal.yield(false) }
    for await closed in ended { return closed }
    return false
}
