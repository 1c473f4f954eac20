import AshitaCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Asks one destination — an IP address and port, already resolved and allowed — whether an ashita node
/// answers there: `GET /api/v1/node?challenge=NONCE` over HTTP, then over TLS when what answered looks like a
/// TLS server. The answer must carry a public key, the id derived from it, and a signature of the nonce by that
/// key: the id is proven, not claimed. Certificates are not checked: the signature is the proof.
///
/// Over SwiftNIO on the node's own event loops: no thread per check. Each attempt is bounded in time (connect
/// and answer together) and in the bytes it reads.
struct AnnouncementProbe: Sendable {
    var maxAnswerBytes = 16 * 1024
    var group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton

    func check(
        _ address: NodeAddress, at destination: AnnouncementChecks.Destination, timeout: TimeAmount
    ) async -> AnnouncementChecks.Outcome {
        var rng = SystemRandomNumberGenerator()
        let challenge = Hex.encode((0..<16).map { _ in UInt8.random(in: .min ... .max, using: &rng) })
        // One deadline for the whole check, the TLS retry included.
        let deadline = NIODeadline.now() + timeout
        let plain = await attempt(address, destination, challenge: challenge, tls: false, until: deadline, of: timeout)
        switch plain {
        case .answered(let status, let body):
            return Self.judge(status: status, body: body, challenge: challenge, tls: false)
        case .failed(let reason):
            return .failure(.init(reason))
        case .maybeTLS(let reason):
            // A TLS-only node drops or garbles a plain request: ask again over TLS, at the same address.
            guard case .answered(let status, let body) = await attempt(address, destination, challenge: challenge, tls: true, until: deadline, of: timeout)
            else { return .failure(.init(reason)) }
            return Self.judge(status: status, body: body, challenge: challenge, tls: true)
        }
    }

    enum Attempt: Sendable {
        case answered(status: Int, body: [UInt8])
        case failed(String)
        /// Nothing that reads as HTTP came back: perhaps a TLS server.
        case maybeTLS(String)
    }

    private func attempt(
        _ address: NodeAddress, _ destination: AnnouncementChecks.Destination, challenge: String, tls: Bool,
        until end: NIODeadline, of total: TimeAmount
    ) async -> Attempt {
        let timeout = end - NIODeadline.now()
        guard timeout > .zero else { return .failed("no time left for a TLS attempt") }
        let socketAddress: SocketAddress
        do {
            socketAddress = try SocketAddress(ipAddress: destination.ip.description, port: destination.port)
        } catch {
            return .failed("\(destination) is not a socket address")
        }
        let tlsContext: NIOSSLContext?
        do {
            tlsContext = tls ? try Self.tlsContext() : nil
        } catch {
            return .failed("TLS is unavailable: \(error)")
        }
        let serverName = address.ip == nil ? address.host : nil
        let limit = maxAnswerBytes
        let channel: any Channel
        let answer: EventLoopFuture<Attempt>
        do {
            (channel, answer) = try await ClientBootstrap(group: group)
                .connectTimeout(timeout)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(to: socketAddress) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let operations = channel.pipeline.syncOperations
                        if let tlsContext {
                            try operations.addHandler(try NIOSSLClientHandler(context: tlsContext, serverHostname: serverName))
                        }
                        try operations.addHTTPClientHandlers()
                        let collector = AnswerCollector(limit: limit, promise: channel.eventLoop.makePromise())
                        try operations.addHandler(collector)
                        return (channel, collector.promise.futureResult)
                    }
                }
        } catch let error as ChannelError {
            if case .connectTimeout = error { return .failed("no connection within \(total.nanoseconds / 1_000_000) ms") }
            return .failed("cannot connect (\(error))")
        } catch let error as IOError {
            return .failed(error.errnoCode == ECONNREFUSED ? "connection refused" : "cannot connect (\(error.localizedReason))")
        } catch {
            return .failed("cannot connect (\(error))")
        }
        let milliseconds = total.nanoseconds / 1_000_000
        let deadline = channel.eventLoop.scheduleTask(deadline: end) {
            channel.pipeline.fireUserInboundEventTriggered(AnswerCollector.Deadline(milliseconds: milliseconds))
        }
        defer { deadline.cancel() }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: address.description)
        headers.add(name: "Accept", value: "application/json")
        headers.add(name: "User-Agent", value: "ashita/\(ashitaVersion) (announcement check)")
        headers.add(name: "Connection", value: "close")
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/api/v1/node?challenge=\(challenge)", headers: headers)
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let result = await withTaskCancellationHandler {
            (try? await answer.get()) ?? .failed("the check was stopped")
        } onCancel: {
            channel.close(promise: nil)
        }
        channel.close(promise: nil)
        return result
    }

    /// Whether the answer proves an ashita node with the id it claims.
    static func judge(status: Int, body: [UInt8], challenge: String, tls: Bool) -> AnnouncementChecks.Outcome {
        guard status == 200 else { return .failure(.init("GET /api/v1/node answered \(status)")) }
        guard let document = try? JSONDecoder().decode(NodeStatus.self, from: Data(body)), !document.id.isEmpty else {
            return .failure(.init("what answers is not an ashita node"))
        }
        guard let hex = document.publicKey, let key = Hex.decode(hex), NodeKey.id(ofPublicKey: key) == document.id else {
            return .failure(.init("its id does not match its public key"))
        }
        guard document.challenge == challenge, let signature = document.signature.flatMap(Hex.decode),
            NodeKey.isValidSignature(signature, of: NodeKey.challengeMessage(challenge), publicKey: key)
        else {
            return .failure(.init("it did not prove its id (bad challenge signature)"))
        }
        return .success(PeerFacts(id: document.id, tls: tls))
    }

    private static func tlsContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        configuration.minimumTLSVersion = .tlsv12
        return try NIOSSLContext(configuration: configuration)
    }
}

/// Collects one HTTP answer, at most `limit` bytes of body, and completes its promise once: with the answer,
/// or with why there is none.
private final class AnswerCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    static let closedEarly = "the connection closed before an answer"

    /// The attempt's time is up.
    struct Deadline { var milliseconds: Int64 }

    let limit: Int
    let promise: EventLoopPromise<AnnouncementProbe.Attempt>
    private var status: Int?
    private var body: [UInt8] = []
    private var done = false

    init(limit: Int, promise: EventLoopPromise<AnnouncementProbe.Attempt>) {
        self.limit = limit
        self.promise = promise
    }

    private func complete(_ attempt: AnnouncementProbe.Attempt, _ context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        promise.succeed(attempt)
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body(let chunk):
            guard body.count + chunk.readableBytes <= limit else {
                return complete(.failed("answer over \(limit) bytes"), context)
            }
            body += chunk.readableBytesView
        case .end:
            complete(.answered(status: status ?? 0, body: body), context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Closed with no answer at all: what a TLS server does with a plain request.
        complete(status == nil ? .maybeTLS(Self.closedEarly) : .failed("the answer was cut short"), context)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let deadline = event as? Deadline {
            complete(.failed("no answer within \(deadline.milliseconds) ms"), context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            complete(.maybeTLS("what answers does not speak HTTP"), context)
        } else if status == nil, let error = error as? IOError, error.errnoCode == ECONNRESET {
            complete(.maybeTLS("the connection was reset"), context)
        } else if error is NIOSSLError || error is BoringSSLError {
            complete(.failed("TLS failed (\(error))"), context)
        } else {
            complete(.failed("\(error)"), context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        complete(.failed(Self.closedEarly), context)
    }
}
