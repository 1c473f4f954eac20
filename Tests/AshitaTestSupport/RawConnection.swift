import LoopbackSockets

#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection to 127.0.0.1 for tests that must misbehave below HTTP: send half a request, never
/// read, or hold a socket open. Blocking calls, each bounded by the socket's receive timeout.
public final class RawConnection: Sendable {
    public let fd: Int32

    /// Connects, or returns nil when the node refused or dropped the connection.
    /// `receiveBuffer`: a small kernel receive buffer (set before connecting, so the window stays small too).
    /// `from`: the source address (any of 127.0.0.0/8), to play several remote hosts on one machine.
    /// `sendBuffer`: a small kernel send buffer, so what the other side does not read soon blocks a send.
    public init?(
        port: Int, from source: String? = nil, receiveTimeoutSeconds: Int = 10, receiveBuffer: Int32? = nil,
        sendBuffer: Int32? = nil
    ) {
        guard let fd = LoopbackSocket.connect(port: port, from: source, receiveBuffer: receiveBuffer, sendBuffer: sendBuffer)
        else { return nil }
        self.fd = fd
        var timeout = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        // Sends are bounded too: a send that cannot go on for this long fails instead of blocking.
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Waits (at most `seconds` in all) until `count` of `connections` have been closed by the other side;
    /// returns how many were. Blocking.
    public static func waitForClosures(_ connections: [RawConnection], count: Int, seconds: Double) -> Int {
        let peerClosedItsEnd: Int16 = 0x2000  // POLLRDHUP
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var closed = Set<Int>()
        while closed.count < count, ContinuousClock.now < deadline {
            var descriptors = connections.enumerated().filter { !closed.contains($0.offset) }.map {
                pollfd(fd: $0.element.fd, events: peerClosedItsEnd, revents: 0)
            }
            let left = deadline - ContinuousClock.now
            let milliseconds = Int32(max(0, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            guard poll(&descriptors, nfds_t(descriptors.count), milliseconds) > 0 else { break }
            for descriptor in descriptors where descriptor.revents & (peerClosedItsEnd | Int16(POLLHUP) | Int16(POLLERR)) != 0 {
                if let index = connections.firstIndex(where: { $0.fd == descriptor.fd }) { closed.insert(index) }
            }
        }
        return closed.count
    }

    /// Waits (at most `seconds`) for the other side to close its end, without reading anything: true when it
    /// did. Blocking.
    public func waitForPeerClose(seconds: Double = 10) -> Bool {
        let peerClosedItsEnd: Int16 = 0x2000  // POLLRDHUP, which Glibc's module does not export
        var descriptor = pollfd(fd: fd, events: peerClosedItsEnd, revents: 0)
        let ready = poll(&descriptor, 1, Int32(seconds * 1000))
        return ready == 1 && descriptor.revents & (peerClosedItsEnd | Int16(POLLHUP) | Int16(POLLERR)) != 0
    }

    deinit { close(fd) }

    /// Sends everything; false once the other side has closed.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    @discardableResult
    public func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    /// Sends `bytes` again and again until `limit` bytes are sent or a send cannot go on (the other side stopped
    /// reading for the send timeout, or closed); returns how many bytes went.
    public func sendRepeatedly(_ bytes: [UInt8], upTo limit: Int) -> Int {
        var total = 0
        while total < limit {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            total += n
            // A partial send: the rest of this copy first, so the stream stays whole frames.
            if n < bytes.count, !send(Array(bytes[n...])) { break }
            if n < bytes.count { total += bytes.count - n }
        }
        return total
    }

    /// What arrives until the other side closes (or the receive timeout passes): the bytes and whether it
    /// was a close.
    public func readUntilClosed(limit: Int = 1 << 20) -> (bytes: [UInt8], closed: Bool) {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while bytes.count < limit {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n == 0 { return (bytes, true) }
            if n < 0 { return (bytes, errno == ECONNRESET) }
            bytes += chunk[..<n]
        }
        return (bytes, false)
    }

    public static let upgradeRequest =
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"

    /// A WebSocket client handshake; returns once the 101 head has arrived, and is then never read again
    /// by `slowReader` tests.
    public func upgradeToWebSocket() -> Bool {
        send(Self.upgradeRequest)
        return readHead()?.hasPrefix("HTTP/1.1 101") ?? false
    }

    /// Reads one HTTP response head, byte by byte (so nothing after it is consumed); nil if the connection
    /// ends or times out first.
    public func readHead() -> String? {
        var head: [UInt8] = []
        var byte: UInt8 = 0
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
            guard recv(fd, &byte, 1, 0) == 1 else { return nil }
            head.append(byte)
        }
        return String(decoding: head, as: UTF8.self)
    }

    /// Reads exactly `count` bytes; nil if the connection ends or times out first.
    public func read(count: Int) -> [UInt8]? {
        var bytes = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = bytes.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            got += n
        }
        return bytes
    }

    /// One frame from the server (unmasked, as servers send): its opcode and payload.
    public func readFrame() -> (opcode: UInt8, payload: [UInt8])? {
        guard let start = read(count: 2) else { return nil }
        var length = Int(start[1] & 0x7F)
        if length == 126 {
            guard let extended = read(count: 2) else { return nil }
            length = Int(extended[0]) << 8 | Int(extended[1])
        } else if length == 127 {
            guard let extended = read(count: 8) else { return nil }
            length = extended.reduce(0) { $0 << 8 | Int($1) }
        }
        guard let payload = read(count: length) else { return nil }
        return (start[0] & 0x0F, payload)
    }

    /// Frames until a close frame: its code (nil without one) and reason; nil when the connection ended with
    /// no close frame at all.
    public func readUntilCloseFrame(limit: Int = 10_000) -> (code: UInt16?, reason: String)? {
        for _ in 0..<limit {
            guard let frame = readFrame() else { return nil }
            guard frame.opcode == 0x8 else { continue }
            guard frame.payload.count >= 2 else { return (nil, "") }
            let code = UInt16(frame.payload[0]) << 8 | UInt16(frame.payload[1])
            return (code, String(decoding: frame.payload.dropFirst(2), as: UTF8.self))
        }
        return nil
    }

    /// A masked client frame with FIN set (payload under 126 bytes): opcode 0x1 text, 0x9 ping.
    public static func maskedFrame(opcode: UInt8, payload: [UInt8]) -> [UInt8] {
        frame(opcode: opcode, payload: payload)
    }

    /// Any client frame: `masked` false and `rsv` bits for frames a server must refuse.
    public static func frame(opcode: UInt8, payload: [UInt8], masked: Bool = true, rsv: UInt8 = 0, fin: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | (rsv & 0x7) << 4 | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        if payload.count < 126 {
            bytes.append(maskBit | UInt8(payload.count))
        } else {
            precondition(payload.count < 65536)
            bytes += [maskBit | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        guard masked else { return bytes + payload }
        let mask: [UInt8] = [1, 2, 3, 4]
        return bytes + mask + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }
}
