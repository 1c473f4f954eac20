import AshitaSystem
import Foundation

/// The attacks of the hostile-input issue, each against a fresh node, each bounded in count and time, all on
/// loopback. Measured from outside the node: `/healthz` as a well-behaved client sees it throughout (every
/// 100 ms, 5 s timeout), the node's RSS (start, peak, after), and whether it restarts on its data directory.
///   ashita-bench --only attacks [--attack NAME]      (ASHITA_BIN=path runs another build, e.g. an older one)
struct AttackReport {
    var name: String
    var healthzWorst: Double = 0
    var healthzFailures = 0
    var rssStart: Double = 0
    var rssPeak: Double = 0
    var rssAfter: Double = 0
    var restarts = false
    var outcome = ""
}

/// Samples `/healthz` and the node's RSS on a thread of its own until stopped.
final class Watchdog: @unchecked Sendable {
    // @unchecked: the samples are written by the sampling thread and read after `stop()` joins it (the lock).
    private let lock = NSLock()
    private var latencies: [Double] = []
    private var failures = 0
    private var peak = 0.0
    private var running = true
    private let done = DispatchSemaphore(value: 0)

    init(node: NodeProcess) {
        let (port, pid) = (node.port, node.process.processIdentifier)
        Thread.detachNewThread { [self] in
            while lock.withLock({ running }) {
                let started = ContinuousClock.now
                var ok = false
                if let probe = BenchSocket(port: port, timeoutSeconds: 5),
                    probe.sendAll(Array("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
                {
                    ok = probe.readAll(limit: 4096).starts(with: Array("HTTP/1.1 200".utf8))
                }
                let elapsed = ms(ContinuousClock.now - started)
                let rss = (try? NodeProcess.memory(pid: pid).rss) ?? 0
                lock.withLock {
                    latencies.append(elapsed)
                    if !ok { failures += 1 }
                    peak = max(peak, rss)
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
            done.signal()
        }
    }

    func stop() -> (worst: Double, failures: Int, peak: Double) {
        lock.withLock { running = false }
        done.wait()
        return lock.withLock { (latencies.max() ?? 0, failures, peak) }
    }
}

/// `count` spellings of `127.0.0.1` that parsers before ashita 0.3 took as different addresses: IPv4-mapped
/// IPv6 with its zero groups written differently.
func mappedSpellings(_ count: Int) -> [String] {
    var spellings: [String] = []
    let zeros = ["0", "00", "000", "0000"]
    for a in zeros { for b in zeros { for c in zeros { for d in zeros { for e in zeros { for last in ["1", "01", "001", "0001"] {
        spellings.append("[\(a):\(b):\(c):\(d):\(e):ffff:7f00:\(last)]")
        if spellings.count == count { return spellings }
    } } } } } }
    return spellings
}

func runAttacks(only: String?) async throws -> [AttackReport] {
    var reports: [AttackReport] = []
    func wanted(_ name: String) -> Bool { only == nil || only == name }

    /// A fresh node with default limits (checks on), the attack, the aftermath, a restart.
    func attack(
        _ name: String, extra: [String] = [], prlimit: Int? = nil,
        _ body: (NodeProcess) async throws -> String
    ) async throws {
        guard wanted(name) else { return }
        say("attack \(name)…")
        let node = try NodeProcess(extra: ["--log-level", "error"] + extra, defaults: false, prlimit: prlimit)
        // The well-behaved client's requests begin first: the start is a node that has served, not one that
        // never ran a request (first requests fill lazily made tables and caches once).
        let watchdog = Watchdog(node: node)
        try await Task.sleep(for: .seconds(2))
        var report = AttackReport(name: name)
        report.rssStart = try node.memory().rss
        report.outcome = try await body(node)
        // The attacker is gone (its sockets closed by the body); the node's deadlines and trim settle.
        try await Task.sleep(for: .seconds(12))
        report.rssAfter = try node.memory().rss
        (report.healthzWorst, report.healthzFailures, report.rssPeak) = watchdog.stop()
        let directory = node.dataDirectory
        node.stop(keepData: true)
        if let again = try? NodeProcess(extra: ["--log-level", "error"], defaults: false, dataDirectory: directory) {
            report.restarts = true
            again.stop()
        }
        say("  healthz worst \(fmt(ms: report.healthzWorst)), \(report.healthzFailures) failed; RSS \(fmt(report.rssStart)) → peak \(fmt(report.rssPeak)) → after \(fmt(report.rssAfter)) MiB; restarts: \(report.restarts ? "yes" : "NO"); \(report.outcome)")
        reports.append(report)
    }

    // 1. Spellings of the node's own address, announced until known-nodes.json outgrows what start-up read.
    try await attack("own-spellings") { node in
        let port = node.port
        var held: [BenchSocket] = []
        let spellings = mappedSpellings(720)
        for chunk in stride(from: 0, to: spellings.count, by: 8) {
            guard let client = BenchSocket(port: port), client.upgrade() else { continue }
            for spelling in spellings[chunk..<min(chunk + 8, spellings.count)] {
                client.sendAll(BenchSocket.text(#"{"type":"auth","node":"\#(spelling):\#(port)"}"#))
            }
            held.append(client)
        }
        try await Task.sleep(for: .seconds(10))
        let size = (try? FileManager.default.attributesOfItem(atPath: "\(node.dataDirectory)/known-nodes.json")[.size] as? Int) ?? 0
        held.removeAll()
        return "known-nodes.json \(size / 1024) KiB"
    }

    // 2a. Heads that promise a body that never comes, from 40 addresses.
    try await attack("stalled-bodies") { node in
        let port = node.port
        let sockets = await onDedicatedThread { () -> [BenchSocket] in
            var sockets: [BenchSocket] = []
            for host in 2..<42 {
                for _ in 0..<50 {
                    guard let s = BenchSocket(port: port, from: "127.0.1.\(host)") else { continue }
                    s.sendNow(Array("POST /api/v1/auth HTTP/1.1\r\nHost: x\r\nContent-Length: 10000\r\n\r\nabc".utf8))
                    sockets.append(s)
                }
            }
            return sockets
        }
        try await Task.sleep(for: .seconds(15))
        let closed = sockets.filter(\.closedByPeer).count
        return "\(closed) of \(sockets.count) stalled connections closed by the node after 15 s"
    }

    // 2b. Pipelined requests for the script, never reading an answer.
    try await attack("pipelined-unread") { node in
        let port = node.port
        let request = Array(String(repeating: "GET /ashita.js HTTP/1.1\r\nHost: x\r\n\r\n", count: 3000).utf8)
        let sockets = await onDedicatedThread { () -> [BenchSocket] in
            var sockets: [BenchSocket] = []
            for i in 0..<300 {
                guard let s = BenchSocket(port: port, from: "127.0.2.\(2 + i / 100)", receiveBuffer: 4096) else { continue }
                s.sendNow(request)
                sockets.append(s)
            }
            return sockets
        }
        try await Task.sleep(for: .seconds(15))
        let closed = sockets.filter(\.closedByPeer).count
        return "\(closed) of \(sockets.count) never-reading connections closed after 15 s"
    }

    // 2c. Event-stream subscribers that never read, while events flow.
    try await attack("unread-event-streams") { node in
        let port = node.port
        // From 25 addresses, as many as each may have (8).
        let subscribers = await onDedicatedThread { () -> [BenchSocket] in
            (0..<200).compactMap { i in
                guard let s = BenchSocket(port: port, from: "127.0.6.\(2 + i / 8)", receiveBuffer: 4096) else { return nil }
                s.sendNow(Array("GET /api/v1/events HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
                return s
            }
        }
        // 1,500 clients join and leave: 4,500 events of about 170 bytes for each subscriber.
        await onDedicatedThread {
            for _ in 0..<1500 {
                guard let client = BenchSocket(port: port), client.upgrade() else { continue }
                client.sendAll(BenchSocket.text(#"{"type":"auth"}"#))
            }
        }
        try await Task.sleep(for: .seconds(15))
        let closed = subscribers.filter(\.closedByPeer).count
        return "\(closed) of \(subscribers.count) unread event streams closed after 15 s"
    }

    // 6. Unfinished heads of 80 KiB of 4-byte headers.
    try await attack("big-heads") { node in
        let port = node.port
        let head = Array(("GET /healthz HTTP/1.1\r\n" + String(repeating: "a:b\r\n", count: 16_000)).utf8)
        let sockets = await onDedicatedThread { () -> [BenchSocket] in
            (0..<1000).compactMap { i in
                guard let s = BenchSocket(port: port, from: "127.0.3.\(2 + i / 200)") else { return nil }
                s.sendNow(head)
                return s
            }
        }
        try await Task.sleep(for: .seconds(3))
        let closed = sockets.filter(\.closedByPeer).count
        return "\(closed) of \(sockets.count) closed within 3 s"
    }

    // 7. Ping floods on four sockets for 5 s.
    try await attack("ping-flood") { node in
        let port = node.port
        let cpuBefore = node.cpuSeconds()
        let closed = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    await onDedicatedThread {
                        guard let s = BenchSocket(port: port, timeoutSeconds: 1), s.upgrade() else { return false }
                        s.sendAll(BenchSocket.text(#"{"type":"auth"}"#))
                        let pings = Array([[UInt8]](repeating: BenchSocket.frame(opcode: 0x9, [0x61]), count: 1000).joined())
                        let end = ContinuousClock.now + .seconds(5)
                        while ContinuousClock.now < end {
                            guard s.sendAll(pings) else { return true }
                            s.drain()
                        }
                        return s.closedByPeer
                    }
                }
            }
            var closed = 0
            for await wasClosed in group where wasClosed { closed += 1 }
            return closed
        }
        return "node CPU \(fmt(node.cpuSeconds() - cpuBefore, 2)) s in 5 s of flood; \(closed) of 4 flooders closed"
    }

    // 3a. One client spells one victim port in many ways, for 10 s.
    try await attack("amplifier") { node in
        let port = node.port
        let victim = try CountingListener(silent: false)
        defer { victim.stop() }
        let spellings = mappedSpellings(4096)
        await onDedicatedThread {
            let end = ContinuousClock.now + .seconds(10)
            var next = 0
            while ContinuousClock.now < end, next < spellings.count {
                guard let client = BenchSocket(port: port), client.upgrade() else { continue }
                for _ in 0..<8 where next < spellings.count {
                    client.sendAll(BenchSocket.text(#"{"type":"auth","node":"\#(spellings[next]):\#(victim.port)"}"#))
                    next += 1
                }
                client.drain()
            }
        }
        return "the victim port was contacted \(victim.accepted) times in 10 s"
    }

    // 3b. 152 homes at a listener that never answers, then a real node: how long until it is verified.
    try await attack("slow-queue") { node in
        let port = node.port
        let silent = try CountingListener(silent: true)
        defer { silent.stop() }
        let real = try NodeProcess(extra: ["--log-level", "error"], defaults: false)
        defer { real.stop() }
        let realPort = real.port
        let spellings = mappedSpellings(152)
        let held = await onDedicatedThread { () -> [BenchSocket] in
            stride(from: 0, to: spellings.count, by: 8).compactMap { chunk in
                guard let client = BenchSocket(port: port), client.upgrade() else { return nil }
                for spelling in spellings[chunk..<min(chunk + 8, spellings.count)] {
                    client.sendAll(BenchSocket.text(#"{"type":"auth","node":"\#(spelling):\#(silent.port)"}"#))
                }
                return client
            }
        }
        let started = ContinuousClock.now
        let verified = await onDedicatedThread { () -> Bool in
            guard let observer = BenchSocket(port: port, timeoutSeconds: 90), observer.upgrade() else { return false }
            observer.sendAll(BenchSocket.text(#"{"type":"auth"}"#))
            guard let honest = BenchSocket(port: port, from: "127.0.4.2", timeoutSeconds: 90), honest.upgrade() else { return false }
            honest.sendAll(BenchSocket.text(#"{"type":"auth","node":"127.0.0.1:\#(realPort)"}"#))
            let text = String(decoding: observer.readUntil("nodeDiscovered", limit: 1 << 20), as: UTF8.self)
            return text.contains("nodeDiscovered")
        }
        _ = held
        return verified ? "a real home verified after \(fmt(ms: ms(ContinuousClock.now - started)))" : "a real home not verified within 90 s"
    }

    // 2d. Descriptors: idle connections from 64 addresses against a node allowed 4,096 descriptors.
    try await attack("descriptor-exhaustion", prlimit: 4096) { node in
        let port = node.port
        let sockets = await onDedicatedThread { () -> [BenchSocket] in
            var sockets: [BenchSocket] = []
            for host in 0..<64 {
                for _ in 0..<70 { if let s = BenchSocket(port: port, from: "127.0.5.\(2 + host)") { sockets.append(s) } }
            }
            return sockets
        }
        // The watchdog's /healthz meanwhile is the measure; hold them 5 s.
        try await Task.sleep(for: .seconds(5))
        let open = sockets.filter { !$0.closedByPeer }.count
        return "\(sockets.count) idle connections made, \(open) still open after 5 s"
    }
    return reports
}

extension BenchSocket {
    /// Reads until `marker` appears (or the end, or the timeout).
    func readUntil(_ marker: String, limit: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        let needle = Array(marker.utf8)
        while bytes.count < limit {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            bytes += chunk[..<n]
            if bytes.firstRange(of: needle) != nil { break }
        }
        return bytes
    }
}

func fmt(ms value: Double) -> String { value >= 1000 ? "\(fmt(value / 1000, 1)) s" : "\(fmt(value, 0)) ms" }
