import AshitaSystem
import AshitaTestSupport
import AshitaClient
import AshitaNode
import Foundation
import Testing

/// `/api/v1/events`: one `id:` per event, resume with `Last-Event-ID`, `?types=` filter, heartbeat.
@Suite struct EventStreamTests {
    /// The next `count` events from a stream, skipping comments.
    private func events(
        _ stream: AsyncThrowingStream<ServerSentEventParser.Item, any Error>, count: Int
    ) async throws -> [ServerSentEvent] {
        try await within(10, "\(count) events") {
            var collected: [ServerSentEvent] = []
            for try await item in stream {
                if case .event(let event) = item { collected.append(event) }
                if collected.count == count { break }
            }
            return collected
        }
    }

    private func content(_ event: ServerSentEvent) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(event.data.utf8)) as? [String: Any])
    }

    @Test func streamsEventsWithIdsAndResumesAfterLastEventID() async throws {
        try await withNode { node in
            let url = "\(node.url)/api/v1/events?types=nodeDiscovered,nodeLeft"
            let first = try await WebSocketPeer.joined(node, home: "a.example:1")
            let second = try await WebSocketPeer.joined(node, home: "b.example:2")
            await first.close()
            // Backlog: `Last-Event-ID: 0` asks for everything held so far, oldest first.
            let seen = try await events(EventStreamReader.open(url, lastEventID: "0"), count: 3)
            #expect(seen.map(\.event) == ["nodeDiscovered", "nodeDiscovered", "nodeLeft"])
            let decoded = try seen.map(content)
            #expect(decoded.map { ($0["content"] as? [String: Any])?["nodeIp"] as? String } == ["a.example:1", "b.example:2", "a.example:1"])
            #expect(decoded.allSatisfy { $0["id"] as? String != nil && $0["time"] as? String != nil && $0["type"] as? String != nil })
            #expect(Set(seen.compactMap(\.id)).count == 3, "one id per event")

            // Resume after the second: the third comes first, then live ones.
            let resumed = EventStreamReader.open(url, lastEventID: seen[1].id)
            await second.close()
            let next = try await events(resumed, count: 2)
            #expect(next.map(\.id) == [seen[2].id, next[1].id])
            #expect(next[1].event == "nodeLeft")
            #expect(try content(next[1])["content"] as? [String: String] == ["nodeIp": "b.example:2"])
        }
    }

    @Test func filtersByTypeAndRefusesUnknownTypes() async throws {
        try await withNode { node in
            let live = EventStreamReader.open("\(node.url)/api/v1/events?types=clientAuthenticated")
            // The stream is open once its preamble comment arrives.
            _ = try await within { () -> Bool in
                for try await item in live { if case .comment = item { return true } }
                return false
            }
            let peer = try await WebSocketPeer.joined(node, home: "c.example:3")
            let got = try await events(live, count: 1)
            #expect(got[0].event == "clientAuthenticated")
            #expect((try content(got[0])["content"] as? [String: Any])?["home"] as? String == "c.example:3")
            await peer.close()

            let bad = try await CurlHTTPClient().get("\(node.url)/api/v1/events?types=bogus")
            #expect(bad.status == 400)
            #expect(bad.text.contains(#""code":"bad-request""#))
        }
    }

    @Test func sendsAHeartbeatComment() async throws {
        try await withNode(configure: { $0.limits.eventStreamHeartbeat = .seconds(1) }) { node in
            let stream = EventStreamReader.open("\(node.url)/api/v1/events")
            let heartbeat = try await within { () -> String? in
                for try await item in stream { if case .comment("heartbeat") = item { return "heartbeat" } }
                return nil
            }
            #expect(heartbeat == "heartbeat")
        }
    }

    @Test func aStreamEndsWhenTheNodeShutsDown() async throws {
        let stream = try await withNode { node in
            let stream = EventStreamReader.open("\(node.url)/api/v1/events")
            _ = try await within { () -> Bool in
                for try await item in stream { if case .comment = item { return true } }
                return false
            }
            return stream
        }
        let rest = try await within { () -> Int in
            var n = 0
            for try await _ in stream { n += 1 }
            return n
        }
        #expect(rest >= 0)
    }

    @Test func aSubscriberThatFallsBehindIsEndedAndResumesWithoutLossOrDuplicates() async throws {
        try await withNode(configure: {
            $0.limits.eventStreamBuffer = 8
            $0.limits.sendTimeout = .seconds(60)
            $0.limits.httpOutboundBytes = 4096
            $0.limits.socketSendBufferBytes = 4096
        }) { node in
            // A well-behaved subscriber sees everything: the reference.
            let reference = try await EventSubscription(node, types: "clientAuthenticated")
            let slow = try #require(RawConnection(port: node.localPort, receiveTimeoutSeconds: 10, receiveBuffer: 4096))
            slow.send("GET /api/v1/events?types=clientAuthenticated HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await onDedicatedThread { slow.readHead() }?.hasPrefix("HTTP/1.1 200") == true)
            // 120 events of about 170 bytes while it reads nothing: more than its buffers and its 8 entries.
            var ids: [String] = []
            for i in 0..<120 {
                let peer = try await WebSocketPeer.joined(node, home: "behind-\(i).example:1")
                await peer.abort()
                let event = try #require(try await within(10, "event \(i)") { try await reference.next() })
                ids.append(try #require(event.id))
            }
            // It was dropped: it reads what reached it, then the end.
            let (bytes, closed) = await onDedicatedThread { slow.readUntilClosed() }
            #expect(closed, "a subscriber that fell behind its buffer is still being served")
            var parser = ServerSentEventParser()
            let before = try parser.feed(bytes).compactMap { item -> String? in
                if case .event(let event) = item { return event.id } else { return nil }
            }
            #expect(before.count < ids.count)
            // It resumes after the last event it got and gets the rest, once each.
            let resumed = EventStreamReader.open(
                "\(node.url)/api/v1/events?types=clientAuthenticated", lastEventID: before.last ?? "0")
            let last = ids.last
            let after = try await within(10, "the rest") { () -> [String] in
                var got: [String] = []
                for try await item in resumed {
                    if case .event(let event) = item, let id = event.id { got.append(id) }
                    if got.last == last { break }
                }
                return got
            }
            #expect(before + after == ids, "lost or repeated: \(Set(ids).subtracting(before + after).count) missing")
        }
    }
}
