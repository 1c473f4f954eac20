@testable import AshitaNode
import NIOCore
import NIOPosix
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// How a link's TCP connection is set up: a thin stream, whose resends come at linear times.
@Suite struct LinkTransportTests {
    #if os(Linux)
    /// On a real loopback connection: linear resend times are on, under Reno, whose slow-start threshold lets Linux
    /// take the stream as thin (BBR, this machine's default, never sets one, and resends then double).
    @Test func aLinksSocketIsTunedForAThinStream() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let client = try await ClientBootstrap(group: group).connect(to: try #require(server.localAddress)).get()
        let socket = try #require(client as? any SocketOptionProvider)
        let before: CongestionControlName = try await socket.unsafeGetSocketOption(
            level: .tcp, name: NIOBSDSocket.Option(rawValue: CInt(TCP_CONGESTION))
        ).get()
        try await client.eventLoop.submit { LinkSession.tuneForThinStream(client) }.get()
        let thin: CInt = try await socket.unsafeGetSocketOption(
            level: .tcp, name: NIOBSDSocket.Option(rawValue: CInt(TCP_THIN_LINEAR_TIMEOUTS))
        ).get()
        let after: CongestionControlName = try await socket.unsafeGetSocketOption(
            level: .tcp, name: NIOBSDSocket.Option(rawValue: CInt(TCP_CONGESTION))
        ).get()
        #expect(thin == 1)
        #expect(after.text == "reno", "congestion control before: \(before.text)")
        try await client.close()
        try await server.close()
        try await group.shutdownGracefully()
    }
    #endif
}

extension CongestionControlName {
    /// The name up to its NUL.
    var text: String {
        let bytes = [bytes.0, bytes.1, bytes.2, bytes.3, bytes.4]
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}
