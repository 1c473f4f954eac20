import Foundation
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
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EADDRNOTAVAIL) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
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
