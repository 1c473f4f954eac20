import AshitaCore
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// Opens links: a WebSocket to `/api/v1/link` at another node, over SwiftNIO on the node's own event loops, with
/// no task per dial. Connecting and upgrading together take at most `timeout`; the greeting has its own deadline.
struct LinkDialer: Sendable {
    static let path = "/api/v1/link"

    var group: any EventLoopGroup
    var timeout: TimeAmount
    var maxFrameBytes: Int
    /// Each event loop's deadlines, where a link's transport watch is timed.
    var deadlines: LoopDeadlinesTable

    func dial(_ address: NodeAddress, hub: LinkHub) {
        // The session, made on the connection's loop once the upgrade is through; nil if it was refused.
        let upgraded = group.next().makePromise(of: NIOLoopBound<LinkSession>?.self)
        let maxFrameBytes = self.maxFrameBytes
        let deadlines = self.deadlines
        let connecting = ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    var headers = HTTPHeaders()
                    headers.add(name: "Host", value: address.description)
                    let upgrader = NIOTypedWebSocketClientUpgrader<NIOLoopBound<LinkSession>?>(
                        maxFrameSize: maxFrameBytes,
                        upgradePipelineHandler: { channel, _ in
                            channel.eventLoop.makeCompletedFuture {
                                let operations = channel.pipeline.syncOperations
                                try operations.addHandler(
                                    NIOWebSocketFrameAggregator(
                                        minNonFinalFragmentSize: 1, maxAccumulatedFrameCount: 256,
                                        maxAccumulatedFrameSize: maxFrameBytes))
                                let session = LinkSession(dialled: address, deadlines: deadlines.on(channel.eventLoop))
                                try operations.addHandler(session)
                                return NIOLoopBound(session, eventLoop: channel.eventLoop)
                            }
                        })
                    let configuration = NIOTypedHTTPClientUpgradeConfiguration<NIOLoopBound<LinkSession>?>(
                        upgradeRequestHead: HTTPRequestHead(version: .http1_1, method: .GET, uri: Self.path, headers: headers),
                        upgraders: [upgrader],
                        notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(nil) })
                    let upgrade = try channel.pipeline.syncOperations.configureUpgradableHTTPClientPipeline(
                        configuration: .init(upgradeConfiguration: configuration))
                    upgrade.cascade(to: upgraded)
                }
            }
            .connect(host: address.bareHost, port: address.port)
        connecting.whenFailure { error in
            upgraded.fail(error)
            hub.enqueue { $0.dialFailed(address, refused: Self.isRefusal(error), reason: "\(error)") }
        }
        connecting.whenSuccess { channel in
            let expiry = DialExpiry()
            let watchdog = channel.eventLoop.scheduleTask(in: timeout) {
                expiry.fired.store(true, ordering: .relaxed)
                channel.close(promise: nil)
            }
            upgraded.futureResult.whenComplete { result in
                watchdog.cancel()
                switch result {
                case .success(let session?):
                    hub.enqueue { hub in
                        let link = hub.nextLinkID()
                        let handshake = hub.handshake(dialer: true)
                        session.eventLoop.execute { session.value.attach(hub, link: link, handshake: handshake) }
                    }
                case .success(nil):
                    // It answered, but not with an upgrade: a live server that will not link now.
                    channel.close(promise: nil)
                    hub.enqueue { $0.dialEnded(address, lost: false, reason: "\(address) answered without an upgrade") }
                case .failure where expiry.fired.load(ordering: .relaxed):
                    hub.enqueue { $0.dialFailed(address, refused: false, reason: "\(address) did not take a link in time") }
                case .failure(let error):
                    channel.close(promise: nil)
                    hub.enqueue { $0.dialEnded(address, lost: true, reason: "the connection broke before the upgrade: \(error)") }
                }
            }
        }
    }

    /// Whether nobody listens at the address (the kernel refused): what a dead node's address does.
    static func isRefusal(_ error: any Error) -> Bool {
        if let error = error as? IOError { return error.errnoCode == ECONNREFUSED }
        if let error = error as? NIOConnectionError {
            return !error.connectionErrors.isEmpty
                && error.connectionErrors.allSatisfy { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }
        }
        return false
    }
}

/// Set by a dial's watchdog: that dial took too long (silence) rather than broke.
private final class DialExpiry: Sendable {
    let fired = Atomic<Bool>(false)
}
