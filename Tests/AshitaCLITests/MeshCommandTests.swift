import AshitaTestSupport
import AshitaClient
import Foundation
import Testing

/// Real `ashita serve` processes that link with --join: `ashita peers --mesh` lists the mesh, and a node killed
/// with SIGKILL is failed by the others.
@Suite struct MeshCommandTests {
    /// The next event of `types` from a node's journal, as (type, id).
    static func next(_ stream: AsyncThrowingStream<ServerSentEventParser.Item, any Error>) async throws -> (String, String) {
        try await within(20, "a member event") {
            for try await item in stream {
                guard case .event(let event) = item, let object = try? jsonObject(event.data),
                    let content = object["content"] as? [String: Any], let id = content["id"] as? String
                else { continue }
                return (event.event ?? "", id)
            }
            throw CancellationError()
        }
    }

    @Test func peersMeshListsTheMeshAndAKilledNodeIsFailed() async throws {
        try await withServedNodes(1) { nodes in
            let first = nodes[0]
            let events = EventStreamReader.open("\(first.url)/api/v1/events?types=memberJoined,memberFailed")
            _ = try await within { () -> Bool in
                for try await item in events { if case .comment = item { return true } }
                return false
            }
            let second = try await ServedNode.start(extra: ["--no-verify-announcements", "--join", first.address])
            let joined = try await Self.next(events)
            #expect(joined.0 == "memberJoined")

            let table = try await ashita("peers", first.address, "--mesh")
            #expect(table.status == 0)
            let lines = table.stdout.split(separator: "\n").map(String.init)
            #expect(lines.count == 3, "\(lines)")
            #expect(lines.first?.hasPrefix("NODE") == true)
            #expect(lines.contains { $0.hasPrefix(second.address) && $0.contains("alive") && $0.contains("yes") })
            #expect(lines.contains { $0.hasPrefix(first.address) && $0.contains("(this node)") })
            let json = try await ashita("peers", first.address, "--mesh", "--json")
            let members = try #require(try jsonObject(json.stdout)["members"] as? [[String: Any]])
            #expect(Set(members.compactMap { $0["address"] as? String }) == [first.address, second.address])

            // Killed: its link breaks, the redial is refused, and the first node fails it.
            second.process.signal(SIGKILL)
            let failed = try await Self.next(events)
            #expect(failed.0 == "memberFailed")
            #expect(failed.1 == joined.1)
            _ = try? await second.process.exitStatus()
        }
    }
}
