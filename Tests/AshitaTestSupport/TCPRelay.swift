import Foundation
import LoopbackSockets
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP relay in front of a node: clients connect to the relay, which forwards every byte both ways.
/// `cut()` drops the connections it carries while the node keeps running, so a test can break a client's
/// connection at a moment of its choosing.
public final class TCPRelay: Sendable {
    public let port: Int
    private let listener: Int32
    private let state = State()

    private final class State: Sendable {
        let open = Mutex<[Int32]>([])
    }

    public init(to target: Int) throws {
        let (fd, port) = try LoopbackSocket.listen(backlog: 64)
        self.port = port
        listener = fd
        let state = self.state
        Thread.detachNewThread {
            while case let client = accept(fd, nil, nil), client >= 0 {
                guard let upstream = RawConnection(port: target, receiveTimeoutSeconds: 3600) else {
                    close(client)
                    continue
                }
                let server = dup(upstream.fd)
                state.open.withLock { $0 += [client, server] }
                Thread.detachNewThread { Self.pump(from: client, to: server) }
                Thread.detachNewThread { Self.pump(from: server, to: client) }
            }
        }
    }

    /// Drops every connection carried so far (both ends see it end); new ones are carried as before.
    public func cut() {
        for fd in state.open.withLock({ open in defer { open = [] }; return open }) { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    public func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        cut()
    }

    private static func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { break }
            let sent = buffer.withUnsafeBytes { send(destination, $0.baseAddress, n, Int32(MSG_NOSIGNAL)) }
            guard sent == n else { break }
        }
        shutdown(destination, Int32(SHUT_RDWR))
    }
}
