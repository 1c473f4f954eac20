import Foundation
import LoopbackSockets

/// A plain TCP socket to 127.0.0.1 for attacks below HTTP: from a chosen source address (127.0.0.0/8 plays many
/// hosts), sending without waiting, never reading unless asked. Closed on deinit.
final class BenchSocket: @unchecked Sendable {
    // @unchecked: one owner at a time (an attack's own thread); the descriptor is only closed in deinit.
    let fd: Int32

    /// nil when the connection failed (refused, or out of descriptors).
    init?(port: Int, from source: String? = nil, receiveBuffer: Int32? = nil, timeoutSeconds: Int = 5) {
        guard let fd = LoopbackSocket.connect(port: port, from: source, receiveBuffer: receiveBuffer) else { return nil }
        self.fd = fd
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// Sends what the socket takes now, without waiting; false once the other side is gone.
    @discardableResult
    func sendNow(_ bytes: [UInt8]) -> Bool {
        let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        return n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK
    }

    /// Sends everything (bounded by the send timeout); false if it could not.
    @discardableResult
    func sendAll(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    /// Reads until the other side closes or the receive timeout passes; the bytes read.
    func readAll(limit: Int = 1 << 20) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while bytes.count < limit {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes += chunk[..<n]
        }
        return bytes
    }

    /// Reads what is there without waiting (a flood's answers, drained so the flood goes on).
    func drain() {
        var chunk = [UInt8](repeating: 0, count: 65536)
        while chunk.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) > 0 {}
    }

    /// Whether the other side has closed (or reset), without waiting.
    var closedByPeer: Bool {
        var descriptor = pollfd(fd: fd, events: 0x2000, revents: 0)  // POLLRDHUP
        return poll(&descriptor, 1, 0) == 1 && descriptor.revents & (0x2000 | Int16(POLLHUP) | Int16(POLLERR)) != 0
    }

    /// A WebSocket handshake, then the 101's head read; false if the node refused.
    func upgrade() -> Bool {
        guard sendAll(Array(("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n").utf8)) else { return false }
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
            guard recv(fd, &byte, 1, 0) == 1 else { return false }
            head.append(byte)
        }
        return head.starts(with: Array("HTTP/1.1 101".utf8))
    }

    /// A masked client frame with FIN set.
    static func frame(opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            bytes.append(0x80 | UInt8(payload.count))
        } else {
            bytes += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        let mask: [UInt8] = [7, 7, 7, 7]
        return bytes + mask + payload.map { $0 ^ 7 }
    }

    static func text(_ text: String) -> [UInt8] { frame(opcode: 0x1, Array(text.utf8)) }
}

/// A loopback listener that counts connections: accepts, then closes at once, or holds them without a word.
final class CountingListener: @unchecked Sendable {
    // @unchecked: the counter and the held list are only touched under `lock`.
    let port: Int
    private let fd: Int32
    private let lock = NSLock()
    private var count = 0
    private var held: [Int32] = []

    init(silent: Bool) throws {
        let (fd, port) = try LoopbackSocket.listen(backlog: 4096)
        self.fd = fd
        self.port = port
        let listener = fd
        Thread.detachNewThread { [self] in
            while case let connection = accept(listener, nil, nil), connection >= 0 {
                lock.lock()
                count += 1
                if silent { held.append(connection) } else { close(connection) }
                lock.unlock()
            }
        }
    }

    var accepted: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }

    func stop() {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        lock.lock()
        for connection in held { close(connection) }
        held = []
        lock.unlock()
    }
}
