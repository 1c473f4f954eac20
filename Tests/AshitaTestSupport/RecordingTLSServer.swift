import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// An HTTPS server on a loopback port that records every request it receives (its path and its Authorization
/// header) and answers 401: the server side of "no token crossed an untrusted TLS connection".
public final class RecordingTLSServer: Sendable {
    public struct Request: Sendable, Equatable {
        public var path: String
        public var authorization: String?
    }

    public let port: Int
    private let channel: any Channel
    private let recorded: Recorded

    final class Recorded: Sendable {
        let requests = Mutex<[Request]>([])
    }

    public init(certificate: String, key: String) async throws {
        let context = try NIOSSLContext(
            configuration: .makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))))
        let recorded = Recorded()
        self.recorded = recorded
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Recorder(recorded: recorded))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        port = channel.localAddress?.port ?? 0
    }

    /// Every request received so far.
    public var requests: [Request] { recorded.requests.withLock { $0 } }

    public func stop() async {
        try? await channel.close()
    }

    private final class Recorder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let recorded: Recorded

        init(recorded: Recorded) { self.recorded = recorded }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                recorded.requests.withLock {
                    $0.append(Request(path: head.uri, authorization: head.headers.first(name: "authorization")))
                }
            case .body:
                break
            case .end:
                let body = #"{"error":{"code":"unauthorized","message":"operator token rejected"}}"#
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Content-Length", value: "\(body.utf8.count)")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .unauthorized, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
