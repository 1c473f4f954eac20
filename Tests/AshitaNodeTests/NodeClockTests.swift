import AshitaClient
import AshitaCore
import AshitaNode
import Foundation
import Synchronization
import Testing

/// The node reads the time only from the clock it is given, so it can run under a simulated one.
@Suite struct NodeClockTests {
    @Test func whatTheNodeRecordsAndTellsIsOnTheClockItIsGiven() async throws {
        let wall = Mutex(Timestamp(iso8601: "2030-01-01T00:00:00.000Z")!)
        let monotonic = Mutex(Duration.seconds(100))
        try await withNode(configure: {
            $0.clock = NodeClock(wall: { wall.withLock { $0 } }, monotonic: { monotonic.withLock { $0 } })
        }) { node in
            _ = try await WebSocketPeer.joined(node, home: "127.0.0.1:9100")
            let peers = try #require(try await getJSON("\(node.url)/api/v1/peers")["peers"] as? [[String: Any]])
            #expect(peers.first?["since"] as? String == "2030-01-01T00:00:00.000Z")
            #expect(try await getJSON("\(node.url)/api/v1/node")["uptimeSeconds"] as? Int == 0)

            wall.withLock { $0 = Timestamp(iso8601: "2031-06-15T12:00:00.000Z")! }
            monotonic.withLock { $0 += .seconds(3600) }
            _ = try await WebSocketPeer.joined(node, home: "127.0.0.1:9101")
            let later = try #require(try await getJSON("\(node.url)/api/v1/peers")["peers"] as? [[String: Any]])
            #expect(later.first { $0["node"] as? String == "127.0.0.1:9101" }?["since"] as? String == "2031-06-15T12:00:00.000Z")
            #expect(try await getJSON("\(node.url)/api/v1/node")["uptimeSeconds"] as? Int == 3600)
        }
    }
}
