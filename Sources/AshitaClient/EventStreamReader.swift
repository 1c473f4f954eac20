import AshitaCore
import AshitaSystem

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Synchronization

/// Reads a node's `/api/v1/events` through libcurl on a thread of its own and hands over what arrives, parsed,
/// as it arrives. Ending the consuming task (or `for await` loop) stops the transfer.
public enum EventStreamReader {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case http(status: Int, body: String)
        /// A 200 that is not `text/event-stream`: whatever answers is not an ashita node.
        case notEventStream(contentType: String)
        /// A line or event over the parser's bounds.
        case overflow(ServerSentEventParser.Overflow)

        public var description: String {
            switch self {
            case .http(let status, let body):
                // A node's own error document says why; any other page (a web server's HTML 404) is not repeated.
                if let document = try? JSONDecoder().decode(ErrorDocument.self, from: Data(body.utf8)) {
                    "event stream answered HTTP \(status): \(document.error.message)"
                } else {
                    "event stream answered HTTP \(status)"
                }
            case .notEventStream(let type): "answered with \(type.isEmpty ? "no content type" : type), not an event stream"
            case .overflow(let overflow): "\(overflow), which no ashita node sends"
            }
        }
    }

    public static func open(
        _ url: String, lastEventID: String? = nil, client: CurlHTTPClient = CurlHTTPClient()
    ) -> AsyncThrowingStream<ServerSentEventParser.Item, any Error> {
        let stop = StopFlag()
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: ServerSentEventParser.Item.self)
        continuation.onTermination = { _ in stop.raise() }
        var headers = ["Accept: text/event-stream"]
        if let lastEventID { headers.append("Last-Event-ID: \(lastEventID)") }
        let requestHeaders = headers
        detachThread {
            let session = StreamSession()
            do {
                let (status, contentType) = try client.stream(url, headers: requestHeaders, shouldStop: { stop.isRaised }) { bytes in
                    session.take(bytes, into: continuation)
                    return !stop.isRaised && session.overflow == nil
                }
                if let overflow = session.overflow {
                    continuation.finish(throwing: Failure.overflow(overflow))
                } else if status != 200 {
                    continuation.finish(throwing: Failure.http(status: status, body: session.raw))
                } else if !contentType.lowercased().hasPrefix("text/event-stream") {
                    continuation.finish(throwing: Failure.notEventStream(contentType: contentType))
                } else {
                    continuation.finish()
                }
            } catch HTTPClientError.stopped {
                if let overflow = session.overflow {
                    continuation.finish(throwing: Failure.overflow(overflow))
                } else {
                    continuation.finish()
                }
            } catch {
                continuation.finish(throwing: error)
            }
        }
        return stream
    }
}

/// The parser and a little of the raw text (for error bodies), used on the reading thread only.
private final class StreamSession {
    private var parser = ServerSentEventParser()
    private(set) var raw = ""
    private(set) var overflow: ServerSentEventParser.Overflow?

    func take(_ bytes: [UInt8], into continuation: AsyncThrowingStream<ServerSentEventParser.Item, any Error>.Continuation) {
        if raw.utf8.count < 512 { raw += String(decoding: bytes.prefix(512), as: UTF8.self) }
        do {
            for item in try parser.feed(bytes) { continuation.yield(item) }
        } catch {
            overflow = error
        }
    }
}

final class StopFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    func raise() { flag.store(true, ordering: .relaxed) }
    var isRaised: Bool { flag.load(ordering: .relaxed) }
}
