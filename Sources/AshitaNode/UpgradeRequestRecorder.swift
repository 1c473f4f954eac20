import NIOCore
import NIOHTTP1

/// Remembers a request head that asks for an upgrade. NIO's typed upgrade handler swallows such a head (and its
/// end) when it declines the upgrade, e.g. `Upgrade: h2c` or a WebSocket on an unknown path; without this the
/// client would wait forever for an answer. The HTTP side answers the remembered head instead.
///
/// It leaves the pipeline as soon as it has seen one, so it never sees the raw bytes that follow an upgrade;
/// the not-upgrading path removes it otherwise.
final class UpgradeRequestRecorder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    /// Where the head goes: one box per connection, read on its event loop.
    let declined: NIOLoopBoundBox<HTTPRequestHead?>

    init(into declined: NIOLoopBoundBox<HTTPRequestHead?>) {
        self.declined = declined
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data), !head.headers[canonicalForm: "upgrade"].isEmpty {
            declined.value = head
            context.fireChannelRead(data)
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            return
        }
        context.fireChannelRead(data)
    }

    /// The declined head, if any; the recorder leaves the pipeline if still there. On the event loop.
    static func take(_ declined: NIOLoopBoundBox<HTTPRequestHead?>, from channel: Channel) -> HTTPRequestHead? {
        if let recorder = try? channel.pipeline.syncOperations.handler(type: UpgradeRequestRecorder.self) {
            channel.pipeline.syncOperations.removeHandler(recorder, promise: nil)
        }
        defer { declined.value = nil }
        return declined.value
    }
}
