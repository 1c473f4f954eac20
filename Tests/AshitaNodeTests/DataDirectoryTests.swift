import AshitaClient
import AshitaCore
import AshitaSystem
import AshitaTestSupport
import Foundation
import Testing

@testable import AshitaNode

#if canImport(Glibc)
import Glibc
#endif

/// The node's files against what a stranger can make it write, and against a directory someone planted.
@Suite struct DataDirectoryTests {
    private func start(_ dir: String) async throws -> NodeServer {
        try await NodeServer.start(
            NodeConfiguration(host: "127.0.0.1", port: 0, dataDirectory: DataDirectory(path: dir)), logger: testLogger)
    }

    /// Starts a node on `dir`, expecting a refusal; returns it.
    private func refusal(_ dir: String, sourceLocation: SourceLocation = #_sourceLocation) async -> FileError? {
        do {
            let node = try await start(dir)
            Issue.record("the node started", sourceLocation: sourceLocation)
            await node.shutdown()
            return nil
        } catch let error as FileError {
            return error
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    @Test func whatStrangersCanMakeTheNodeRememberIsBounded() throws {
        var known = KnownNodes()
        let clock = Timestamp(milliseconds: 1_000_000)
        // One node under many names keeps at most four of them.
        for i in 0..<50 {
            _ = known.record(try NodeAddress(parsing: "name-\(i).example:8000"), PeerFacts(id: "same", tls: false), at: clock.adding(milliseconds: Int64(i)))
        }
        #expect(known.nodes.count == KnownNodes.addressesPerID)
        #expect(known.nodes["name-49.example:8000"] != nil, "the latest stay")
        // Many nodes: at most `capacity`.
        for i in 0..<(KnownNodes.capacity + 100) {
            _ = known.record(try NodeAddress(parsing: "n\(i).example:1"), PeerFacts(id: "id\(i)", tls: false), at: clock.adding(milliseconds: Int64(100 + i)))
        }
        #expect(known.nodes.count == KnownNodes.capacity)
    }

    @Test func findingWhatIsKnownAgainIsNoWrite() throws {
        var known = KnownNodes()
        let clock = Timestamp(milliseconds: 1_000_000)
        let address = try NodeAddress(parsing: "127.0.0.1:9000")
        #expect(known.record(address, PeerFacts(id: "a", tls: false), at: clock).changed)
        // The same again, a minute later: nothing worth writing.
        #expect(known.record(address, PeerFacts(id: "a", tls: false), at: clock.adding(milliseconds: 60_000)).changed == false)
        // Another id, or an hour on: written.
        #expect(known.record(address, PeerFacts(id: "b", tls: false), at: clock.adding(milliseconds: 61_000)) == (true, "a"))
        #expect(known.record(address, PeerFacts(id: "b", tls: false), at: clock.adding(milliseconds: 61_000 + 3_600_000)).changed)
    }

    @Test func theLargestFileTheNodeCanWriteIsOneItReads() async throws {
        // Every entry as long as an address can be: what a full file takes at most.
        var known = KnownNodes()
        let clock = Timestamp(milliseconds: 1_000_000)
        let label = String(repeating: "a", count: 60)
        for i in 0..<KnownNodes.capacity {
            let base = "n\(i).\(label).\(label).\(label).example"
            let name = "\(String(repeating: "b", count: 249 - base.count - 1)).\(base)"
            let address = try NodeAddress(parsing: "\(name):65535")
            #expect(address.description.utf8.count == NodeAddress.maxLength)
            let id = String(String(i).reversed()) + String(repeating: "z", count: 32 - String(i).count)
            _ = known.record(address, PeerFacts(id: id, tls: true), at: clock.adding(milliseconds: Int64(i)))
        }
        #expect(known.nodes.count == KnownNodes.capacity)
        let text = known.encoded()
        #expect(text.utf8.count < KnownNodes.maxFileBytes, "a full file is \(text.utf8.count) bytes")
        let dir = temporaryDirectory()
        try SecureFiles.writeAtomically("\(dir)/known-nodes.json", contents: text)
        let (loaded, setAside) = try KnownNodes.load("\(dir)/known-nodes.json")
        #expect(setAside == nil)
        #expect(loaded == known)
        try await withNodes(1, dataDirectories: [dir]) { _ in }
    }

    @Test(arguments: ["not json at all", String(repeating: "{", count: 2 << 20)])
    func aDamagedKnownNodesFileIsSetAsideAndTheNodeStarts(_ contents: String) async throws {
        let dir = temporaryDirectory()
        try writeFile("\(dir)/known-nodes.json", contents)
        try await withNodes(1, dataDirectories: [dir]) { nodes in
            let status = try await CurlHTTPClient().get("\(nodes[0].url)/healthz").status
            #expect(status == 200)
        }
        #expect(FileManager.default.fileExists(atPath: "\(dir)/known-nodes.json.damaged"))
    }

    /// The bans file is the operator's, but a damaged one must not stop a start either: set aside, no bans.
    @Test(arguments: [
        "{", #"{"bans":[{"kind":"home","target":"nope","until":"2099-01-01T00:00:00.000Z"}]}"#,
        #"{"bans":[{"kind":"moon","target":"10.0.0.1","until":"2099-01-01T00:00:00.000Z"}]}"#,
        String(repeating: " ", count: 600 << 10),
    ])
    func aDamagedBansFileIsSetAsideAndTheNodeStarts(_ contents: String) async throws {
        let dir = temporaryDirectory()
        try writeFile("\(dir)/bans.json", contents)
        try await withNodes(1, dataDirectories: [dir]) { nodes in
            let status = try await CurlHTTPClient().get("\(nodes[0].url)/healthz").status
            #expect(status == 200)
        }
        #expect(FileManager.default.fileExists(atPath: "\(dir)/bans.json.damaged"))
    }

    @Test func aRestartAfterANameFloodStarts() async throws {
        let dir = temporaryDirectory()
        try await withNodes(2, dataDirectories: [dir, temporaryDirectory()], configure: { $0.limits.verifyAnnouncements = true }) { nodes in
            let (node, real) = (nodes[0], nodes[1])
            let checked = try await EventSubscription(node, types: "nodeDiscovered,nodeUnverified")
            // Names of the real node and of the node itself.
            for port in [real.localPort, node.localPort] {
                for name in ["localhost", "LOCALHOST", "localhost.", "127.0.0.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]"] {
                    let announcer = try await WebSocketPeer.to(node)
                    try await announcer.auth("\(name):\(port)")
                    try await announcer.expect("nodeConnected")
                }
            }
            // The first check of the real node is done (found, or on a busy machine perhaps not: either way the
            // node wrote what it would).
            _ = try await within(30, "a check's end") { try await checked.next() }
        }
        let text = try String(contentsOfFile: "\(dir)/known-nodes.json", encoding: .utf8)
        let written = try JSONDecoder().decode(KnownNodes.self, from: Data(text.utf8))
        #expect(written.nodes.count <= KnownNodes.addressesPerID)
        try await withNodes(1, dataDirectories: [dir]) { _ in }
    }

    @Test func aDirectoryOthersMayWriteIsRefused() async throws {
        let dir = temporaryDirectory()
        chmod(dir, 0o777)
        // Planted: a token the planter knows.
        try writeFile("\(dir)/operator-token", String(repeating: "ab", count: 32) + "\n")
        let error = await refusal(dir)
        #expect(error?.file == dir)
        #expect(error?.description.contains("is writable by other users (mode 777)") == true, "\(String(describing: error))")
        #expect(error?.description.contains("chmod") == true)
    }

    @Test func aSecretReadableByOthersIsRefused() async throws {
        let dir = temporaryDirectory()
        try writeFile("\(dir)/operator-token", String(repeating: "ab", count: 32) + "\n", mode: 0o644)
        let error = await refusal(dir)
        #expect(error?.file == "\(dir)/operator-token")
        #expect(error?.description.contains("readable by other users") == true, "\(String(describing: error))")
    }

    @Test func aLockThatIsALinkIsRefusedAndItsTargetUntouched() async throws {
        let dir = temporaryDirectory()
        let target = "\(temporaryDirectory())/precious"
        try writeFile(target, "keep me\n")
        try FileManager.default.createSymbolicLink(atPath: "\(dir)/lock", withDestinationPath: target)
        let error = await refusal(dir)
        #expect(error?.file == "\(dir)/lock")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "keep me\n")
    }

    @Test func aKeyThatIsAFIFOIsRefusedWithoutWaiting() async throws {
        let dir = temporaryDirectory()
        #expect(mkfifo("\(dir)/node-key", 0o600) == 0)
        let error = try await within(5, "start-up to refuse a FIFO") { await refusal(dir) }
        #expect(error?.file == "\(dir)/node-key")
        #expect(error?.description.contains("is not a regular file") == true)
    }

    @Test func filesOfAnotherUserAreRefused() async throws {
        // Only root can give a file away.
        guard geteuid() == 0 else { return }
        let dir = temporaryDirectory()
        try writeFile("\(dir)/operator-token", String(repeating: "ab", count: 32) + "\n")
        chown("\(dir)/operator-token", 65534, 65534)
        let error = await refusal(dir)
        #expect(error?.description.contains("belongs to user 65534") == true, "\(String(describing: error))")
    }
}
