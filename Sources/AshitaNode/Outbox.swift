import NIOCore
import NIOWebSocket
import Synchronization

/// A connection's bounded queue of outgoing frames. The mesh pushes without waiting (a fan-out to thousands
/// must not wait on any one of them); the connection's writer takes everything queued as one batch and writes
/// it with one flush. A reader too slow to keep up overflows the bound and is closed, instead of growing the
/// node's memory.
final class Outbox: Sendable {
    struct Batch {
        var frames: [WebSocketFrame]
        /// Set on the last batch when the connection is to be closed after its frames.
        var close: CloseRequest?
    }

    struct CloseRequest: Equatable {
        var code: UInt16
        var reason: String
    }

    private struct State {
        var frames: [WebSocketFrame] = []
        var close: CloseRequest?
        /// No batch follows: the close went out, or the connection is gone.
        var done = false
        var waiter: CheckedContinuation<Batch?, Never>?

        var hasWork: Bool { !done && (!frames.isEmpty || close != nil) }

        mutating func take() -> Batch {
            let batch = Batch(frames: frames, close: close)
            frames = []
            if close != nil { done = true }
            return batch
        }

        /// The waiting consumer and what to hand it, if there is both.
        mutating func wake() -> (CheckedContinuation<Batch?, Never>, Batch)? {
            guard hasWork, let w = waiter else { return nil }
            waiter = nil
            return (w, take())
        }
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Queues a frame. Returns false when the queue is full; the caller then closes the connection.
    @discardableResult
    func push(_ frame: WebSocketFrame) -> Bool {
        let (accepted, wake) = state.withLock { s -> (Bool, (CheckedContinuation<Batch?, Never>, Batch)?) in
            guard s.close == nil, !s.done else { return (true, nil) }
            guard s.frames.count < capacity else { return (false, nil) }
            s.frames.append(frame)
            return (true, s.wake())
        }
        if let (waiter, batch) = wake { waiter.resume(returning: batch) }
        return accepted
    }

    /// Asks for a close frame after what is queued, then the end of the connection. The first close wins.
    func close(code: UInt16, reason: String) {
        let wake = state.withLock { s -> (CheckedContinuation<Batch?, Never>, Batch)? in
            guard s.close == nil, !s.done else { return nil }
            s.close = CloseRequest(code: code, reason: reason)
            return s.wake()
        }
        if let (waiter, batch) = wake { waiter.resume(returning: batch) }
    }

    /// Ends the outbox at once, without a close frame (the connection is gone).
    func finish() {
        let waiter = state.withLock { s -> CheckedContinuation<Batch?, Never>? in
            s.done = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Everything queued so far, waiting while nothing is; nil once done. One consumer only.
    func next() async -> Batch? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Batch?, Never>) in
                let ready: Batch?? = state.withLock { s in
                    if s.hasWork { return .some(s.take()) }
                    if s.done { return .some(nil) }
                    s.waiter = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }
}
