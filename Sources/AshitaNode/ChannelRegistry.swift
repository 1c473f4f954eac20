import NIOCore
import Synchronization

/// The node's HTTP connections that wait for a next request, so shutdown can close them (they would otherwise
/// wait forever). A connection that starts waiting after shutdown is closed at once.
final class ChannelRegistry: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var closed = false
    }

    private let state = Mutex(State())

    func insert(_ channel: any Channel) {
        let refuse = state.withLock { s -> Bool in
            guard !s.closed else { return true }
            s.channels[ObjectIdentifier(channel)] = channel
            return false
        }
        if refuse { channel.close(promise: nil) }
    }

    func remove(_ channel: any Channel) {
        _ = state.withLock { $0.channels.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    func closeAll() {
        let channels = state.withLock { s -> [any Channel] in
            s.closed = true
            defer { s.channels = [:] }
            return Array(s.channels.values)
        }
        for channel in channels { channel.close(promise: nil) }
    }
}
