import Foundation
import LoopbackSockets
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Something on a loopback port that is not an ashita node, for tests that need a stranger: it answers every
/// request with a fixed response, says nothing at all, or streams without end. It counts the connections it
/// accepted, so a test can tell how often the node came knocking.
public final class PlainHTTPServer: Sendable {
    public enum Behaviour: Sendable {
        /// Reads the request head, sends this, closes.
        case respond(String)
        /// Accepts and reads, never answers; the connection stays open until `stop()`.
        case silent
        /// Sends `head`, then `chunk` over and over until the client hangs up or `limit` bytes went out.
        case endless(head: String, chunk: String, limit: Int)
    }

    public let port: Int
    private let listener: Int32
    private let state = State()

    private final class State: Sendable {
        let connections = Atomic<Int>(0)
        let held = Mutex<[Int32]>([])
    }

    public convenience init(response: String) throws {
        try self.init(.respond(response))
    }

    public init(_ behaviour: Behaviour, host: String = "127.0.0.1") throws {
        let (fd, port) = try LoopbackSocket.listen(on: host, backlog: 64)
        self.port = port
        listener = fd
        let state = self.state
        Thread.detachNewThread {
            // Ends when the listener closes.
            while case let connection = accept(fd, nil, nil), connection >= 0 {
                state.connections.add(1, ordering: .relaxed)
                switch behaviour {
                case .respond(let response):
                    Self.readHead(connection)
                    Self.send(connection, Array(response.utf8))
                    close(connection)
                case .silent:
                    state.held.withLock { $0.append(connection) }
                case .endless(let head, let chunk, let limit):
                    Thread.detachNewThread {
                        Self.readHead(connection)
                        guard Self.send(connection, Array(head.utf8)) else {
                            close(connection)
                            return
                        }
                        let bytes = Array(chunk.utf8)
                        var sent = 0
                        while sent < limit, Self.send(connection, bytes) { sent += bytes.count }
                        close(connection)
                    }
                }
            }
        }
    }

    /// Connections accepted so far.
    public var accepted: Int { state.connections.load(ordering: .relaxed) }

    public func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for connection in state.held.withLock({ $0 }) { close(connection) }
    }

    private static func readHead(_ connection: Int32) {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        _ = buffer.withUnsafeMutableBytes { recv(connection, $0.baseAddress, $0.count, 0) }
    }

    @discardableResult
    private static func send(_ connection: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
    }
}
