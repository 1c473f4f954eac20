#if canImport(Glibc)
import Glibc
#endif

/// Plain TCP sockets on loopback for the tests and the attack bench, which must misbehave below HTTP (half a
/// request, never reading, many source addresses): a connection from a chosen 127.0.0.0/8 address, and a
/// listener on a port the kernel picks. Descriptors are close-on-exec, so no child process inherits them.
public enum LoopbackSocket {
    /// A socket connected to 127.0.0.1:`port`, or nil when the connection failed (refused, dropped, or out of
    /// descriptors). `source`: the address to connect from (any of 127.0.0.0/8, to play several hosts).
    /// `receiveBuffer`, `sendBuffer`: small kernel buffers, set before connecting so the window stays small.
    public static func connect(
        port: Int, from source: String? = nil, receiveBuffer: Int32? = nil, sendBuffer: Int32? = nil
    ) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        if var size = sendBuffer { setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        if let source {
            var local = address(source, port: 0)
            guard withSocketAddress(&local, { Glibc.bind(fd, $0, $1) }) == 0 else {
                close(fd)
                return nil
            }
        }
        var remote = address("127.0.0.1", port: port)
        guard withSocketAddress(&remote, { Glibc.connect(fd, $0, $1) }) == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    /// A socket listening on `host` at a port the kernel picks, and that port.
    public static func listen(on host: String = "127.0.0.1", backlog: Int32) throws(LoopbackSocketError) -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw LoopbackSocketError(errno: errno) }
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var local = address(host, port: 0)
        guard withSocketAddress(&local, { Glibc.bind(fd, $0, $1) }) == 0, Glibc.listen(fd, backlog) == 0 else {
            let error = LoopbackSocketError(errno: errno)
            close(fd)
            throw error
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return (fd, Int(UInt16(bigEndian: local.sin_port)))
    }

    private static func address(_ host: String, port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        return address
    }

    private static func withSocketAddress(
        _ address: inout sockaddr_in, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32
    ) -> Int32 {
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}

/// A loopback socket could not be made: the system's error number.
public struct LoopbackSocketError: Error, CustomStringConvertible {
    public var errno: Int32
    public var description: String { "cannot listen on loopback: \(String(cString: strerror(errno)))" }
}
