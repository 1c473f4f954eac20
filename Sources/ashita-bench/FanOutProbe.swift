import AshitaSystem
import Foundation
import LoopbackSockets

#if canImport(Glibc)
import Glibc
#endif

/// Fan-out latency measured on clients that add no floor of their own: plain sockets, one thread, and the time
/// each announcement reached an observer taken by the kernel as the segment arrived (`SO_TIMESTAMPNS`), not when
/// the bench got round to reading it. The newcomer's `auth` is stamped on the same clock (`CLOCK_REALTIME`) just
/// before it is sent, so a round's latency is: the node reads the `auth`, rules, encodes, writes to every
/// observer, and the kernel carries each write across loopback — nothing of the bench's own scheduling.
///
/// The reader waits in `poll(2)` meanwhile, and so keeps a core awake: on this virtual machine a probe that sleeps
/// through the fan-out instead (so as to take no CPU from the node) measured more, not less — 1.19 ms against
/// 0.78 ms for ashita, and 0.41 ms against 0.23 ms for the floor below — since waking an idle virtual CPU costs
/// more than sharing a busy one.
struct FanOutProbe {
    private let port: Int
    private var observers: [Observer] = []

    private struct Observer {
        let socket: BenchSocket
        /// Bytes read but not yet searched past: the tail of the last read, so a marker split between two
        /// reads is still found.
        var carry: [UInt8] = []
    }

    /// Connects `listeners` observers, each authenticated with a home of its own (the original answers no
    /// `auth` without one), and reads what they were sent until each has its `nodeConnected`.
    private init(port: Int) { self.port = port }

    init(port: Int, listeners: Int) throws {
        self.port = port
        for i in 0..<listeners {
            guard let socket = BenchSocket(port: port), socket.upgrade(),
                socket.sendAll(BenchSocket.text(#"{"type":"auth","node":"observer-\#(i).example:1","content":{}}"#))
            else { throw BenchError("observer \(i) could not connect and authenticate") }
            var observer = Observer(socket: socket)
            guard Self.readUntil(Array("nodeConnected".utf8), &observer) != nil else {
                throw BenchError("observer \(i) had no nodeConnected")
            }
            observers.append(observer)
        }
        timestampAndUnblock()
    }

    /// From here on reads carry the kernel's arrival time and never wait.
    private mutating func timestampAndUnblock() {
        for i in observers.indices {
            observers[i].carry = []
            var on: Int32 = 1
            setsockopt(observers[i].socket.fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, socklen_t(MemoryLayout<Int32>.size))
            let flags = fcntl(observers[i].socket.fd, F_GETFL)
            _ = fcntl(observers[i].socket.fd, F_SETFL, flags | O_NONBLOCK)
        }
    }

    /// `rounds` newcomers, one at a time: each authenticates with home `fan-R.example:1`, and the round's latency
    /// is from just before its `auth` is sent to the kernel's arrival time of the last observer's announcement.
    /// Each newcomer then leaves with a close frame before the next connects.
    mutating func run(rounds: Int) throws -> [Duration] {
        var latencies: [Duration] = []
        for round in 0..<rounds {
            guard let newcomer = BenchSocket(port: port), newcomer.upgrade() else {
                throw BenchError("newcomer \(round) could not connect")
            }
            let marker = Array("fan-\(round).example:1".utf8)
            let auth = BenchSocket.text(#"{"type":"auth","node":"fan-\#(round).example:1","content":{}}"#)
            let sent = Self.realtime()
            guard newcomer.sendAll(auth) else { throw BenchError("newcomer \(round) could not send auth") }
            latencies.append(try collect(marker, round: round) - sent)
            _ = newcomer.sendAll(BenchSocket.frame(opcode: 0x8, [0x03, 0xE8]))
            // The newcomer's departure (ashita tells every observer) is over before the next round starts.
            drain(for: .milliseconds(2))
        }
        return latencies
    }

    /// The latest of the kernel's arrival times of `marker` at every observer.
    private mutating func collect(_ marker: [UInt8], round: Int) throws -> Duration {
        var last = Duration.zero
        var waiting = Set(observers.indices)
        let deadline = ContinuousClock.now + .seconds(10)
        while !waiting.isEmpty {
            var descriptors = waiting.map { pollfd(fd: observers[$0].socket.fd, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&descriptors, nfds_t(descriptors.count), 1000)
            guard ready >= 0 || errno == EINTR else { throw BenchError("poll failed: errno \(errno)") }
            guard ContinuousClock.now < deadline else {
                throw BenchError("\(waiting.count) observers missed the announcement of round \(round)")
            }
            for descriptor in descriptors where descriptor.revents != 0 {
                let index = observers.firstIndex { $0.socket.fd == descriptor.fd }!
                switch Self.readOnce(marker, &observers[index]) {
                case .found(let at):
                    last = max(last, at)
                    waiting.remove(index)
                case .notYet: break
                case .closed: throw BenchError("observer \(index) was closed in round \(round)")
                }
            }
        }
        return last
    }

    /// This machine's floor for the same figure: no node, one thread writing the same kind of frame to
    /// `listeners` loopback sockets one after another (`write(2)` each, as the node's writer does once per
    /// socket), the same reader stamping arrivals. What the node adds is the rest of the figure above.
    static func floor(listeners: Int, rounds: Int) async throws -> [Duration] {
        try await onDedicatedThread {
            Result {
                let (listener, port) = try LoopbackSocket.listen(backlog: 4096)
                defer { close(listener) }
                var probe = FanOutProbe(port: port)
                var writers: [Int32] = []
                defer { for fd in writers { close(fd) } }
                for _ in 0..<listeners {
                    guard let socket = BenchSocket(port: port) else { throw BenchError("could not connect to the floor's listener") }
                    probe.observers.append(Observer(socket: socket))
                    writers.append(accept(listener, nil, nil))
                }
                probe.timestampAndUnblock()
                var latencies: [Duration] = []
                for round in 0..<rounds {
                    let marker = Array("fan-\(round).example:1".utf8)
                    let payload = #"{"content":{"nodeIp":"fan-\#(round).example:1","tls":false},"type":"nodeDiscovered"}"#
                    let frame = [UInt8(0x81), UInt8(payload.utf8.count)] + Array(payload.utf8)
                    let start = realtime()
                    for fd in writers { _ = frame.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
                    latencies.append(try probe.collect(marker, round: round) - start)
                }
                return latencies
            }
        }.get()
    }

    /// Runs `rounds` on a thread of their own (they block on `poll`), away from the bench's task pool.
    static func measure(port: Int, listeners: Int, rounds: Int) async throws -> [Duration] {
        try await onDedicatedThread {
            Result {
                var probe = try FanOutProbe(port: port, listeners: listeners)
                return try probe.run(rounds: rounds)
            }
        }.get()
    }

    private enum ReadOutcome {
        case found(Duration)
        case notYet
        case closed
    }

    /// One `recvmsg`: whether `marker` is now among what the observer was sent, and if so the kernel's arrival
    /// time of the read that completed it.
    private static func readOnce(_ marker: [UInt8], _ observer: inout Observer) -> ReadOutcome {
        var chunk = [UInt8](repeating: 0, count: 16384)
        var control = [UInt8](repeating: 0, count: 64)
        let (count, arrival) = chunk.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { controlBytes in
                var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var message = msghdr()
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBytes.baseAddress
                    message.msg_controllen = controlBytes.count
                    let n = recvmsg(observer.socket.fd, &message, 0)
                    return (n, kernelTimestamp(message, controlBytes))
                }
            }
        }
        if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) { return .notYet }
        guard count > 0 else { return .closed }
        observer.carry += chunk[..<count]
        defer { observer.carry = Array(observer.carry.suffix(marker.count - 1)) }
        guard observer.carry.firstRange(of: marker) != nil else { return .notYet }
        return .found(arrival ?? realtime())
    }

    /// Blocking reads until `marker` is among what the observer was sent (nil if the connection ended first, or
    /// 10 s passed).
    private static func readUntil(_ marker: [UInt8], _ observer: inout Observer) -> Void? {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            switch readOnce(marker, &observer) {
            case .found: return ()
            case .notYet: continue
            case .closed: return nil
            }
        }
        return nil
    }

    /// The `SCM_TIMESTAMPNS` a read carried: the first control message, laid out as Linux does on 64 bits
    /// (length, level, type, then the `timespec` at offset 16).
    private static func kernelTimestamp(_ message: msghdr, _ control: UnsafeMutableRawBufferPointer) -> Duration? {
        guard message.msg_controllen >= 32 else { return nil }
        let level = control.load(fromByteOffset: 8, as: Int32.self)
        let type = control.load(fromByteOffset: 12, as: Int32.self)
        guard level == SOL_SOCKET, type == SO_TIMESTAMPNS else { return nil }
        let seconds = control.load(fromByteOffset: 16, as: Int.self)
        let nanoseconds = control.load(fromByteOffset: 24, as: Int.self)
        return .seconds(seconds) + .nanoseconds(nanoseconds)
    }

    /// Reads whatever the observers are sent for `interval`, discarding it, without sleeping (see above).
    private mutating func drain(for interval: Duration) {
        let end = ContinuousClock.now + interval
        while ContinuousClock.now < end {
            var descriptors = observers.map { pollfd(fd: $0.socket.fd, events: Int16(POLLIN), revents: 0) }
            guard poll(&descriptors, nfds_t(descriptors.count), 0) > 0 else { continue }
            for descriptor in descriptors where descriptor.revents != 0 {
                let index = observers.firstIndex { $0.socket.fd == descriptor.fd }!
                _ = Self.readOnce([0], &observers[index])
            }
        }
    }

    private static func realtime() -> Duration {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
    }
}
