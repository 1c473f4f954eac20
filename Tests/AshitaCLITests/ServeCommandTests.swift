import AshitaTestSupport
import AshitaClient
import AshitaCore
import AshitaSystem
import Foundation
import Testing

/// `ashita serve` as a user runs it: a real process, its output, its signals, its exit codes.
@Suite struct ServeCommandTests {
    /// Starts `ashita serve 0` and returns the process and the port from its one stdout line.
    private func serve(_ extra: [String] = []) async throws -> (AshitaProcess, Int) {
        let node = try AshitaProcess(["serve", "0", "--data-dir", temporaryDirectory()] + extra)
        let line = try #require(try await node.nextLine(), "no listening line")
        let match = try #require(line.firstMatch(of: /^ashita node 127\.0\.0\.1:(\d+) listening on http:\/\/127\.0\.0\.1:(\d+)\/$/))
        #expect(match.1 == match.2)
        return (node, Int(match.1)!)
    }

    private func next(_ client: WebSocketPeer) async throws -> WebSocketMessage? {
        try await within(15, "a message") { await client.next() }
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func printsOneLineWhenListeningAndExitsZeroOnASignalClosingClientsWith1001(_ signal: Int32) async throws {
        let (node, port) = try await serve()
        let client = try await WebSocketPeer.local(port: port)
        try await client.send(#"{"type":"auth","node":"127.0.0.1:1","content":{}}"#)
        guard case .text(let connected)? = try await next(client) else {
            Issue.record("no nodeConnected")
            return
        }
        #expect(connected.contains("nodeConnected"))
        node.signal(signal)
        var code: UInt16?
        while let message = try await next(client) {
            if case .close(let c, _) = message { code = c }
        }
        #expect(code == 1001)
        #expect(try await node.exitStatus() == 0)
        #expect(try await node.nextLine() == nil, "nothing but the listening line on stdout")
    }

    /// A signal the moment the node says it listens stops it gracefully (exit 0), five times over; SIGINT too
    /// when the node inherited it ignored, as `sh` gives it to a command a script starts with `&`.
    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalTheMomentTheNodeListensStopsIt(_ signal: Int32) async throws {
        for round in 0..<5 {
            let child = try ChildProcess(
                "/bin/sh", ["-c", #"trap '' INT; exec "$0" serve 0 --data-dir "$1""#, ashitaExecutable, temporaryDirectory()],
                standardError: .discard)
            let out = child.standardOutput!
            let line = await onDedicatedThread { String(decoding: out.availableData, as: UTF8.self) }
            #expect(line.contains(" listening on "), "round \(round): \(line)")
            child.signal(signal)
            let status = try await within(20, "the node to exit on signal \(signal)") { await child.status() }
            #expect(status == 0, "round \(round)")
        }
    }

    /// What the node's process has loaded: the path of every file /proc/PID/maps lists.
    private func mappedFiles(_ pid: pid_t) throws -> Set<String> {
        let maps = try String(contentsOfFile: "/proc/\(pid)/maps", encoding: .utf8)
        return Set(maps.split(separator: "\n").compactMap { line in line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(5).first.map(String.init) })
    }

    /// The program a process runs now, as the kernel names it (`comm`).
    private func programName(_ pid: pid_t) throws -> String {
        try String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)
    }

    /// Runs `executable serve 0` to its listening line and stops it with SIGTERM (exit 0): which program the
    /// node ran in, and what it said on stderr.
    private func serveThrough(_ executable: String) async throws -> (program: String, stderr: String) {
        let node = try AshitaProcess(["serve", "0", "--data-dir", temporaryDirectory()], executable: executable)
        #expect(try await node.nextLine()?.contains(" listening on ") == true)
        let program = try programName(node.child.pid)
        node.signal(SIGTERM)
        #expect(try await node.exitStatus() == 0)
        return (program, try await node.stderr())
    }

    private static let clientLibraries = ["libcurl", "libssl", "libcrypto", "libgnutls", "libnghttp", "libssh", "libldap", "librtmp", "libpsl"]

    /// `ashita serve` becomes `ashita-node` in the same process (same id, same command line), which links none of
    /// the client's libraries: neither libcurl nor a TLS stack of the system.
    @Test func theNodeMapsNeitherLibcurlNorItsTLSStacks() async throws {
        let (node, _) = try await serve()
        let files = try mappedFiles(node.child.pid)
        let loaded = files.filter { file in Self.clientLibraries.contains { file.contains("/\($0)") } }
        #expect(loaded.isEmpty, "the node maps \(loaded.sorted())")
        #expect(files.contains { $0.hasSuffix("/ashita-node") }, "\(files.sorted())")
        #expect(try programName(node.child.pid) == "ashita-node\n")
        let commandLine = try String(contentsOfFile: "/proc/\(node.child.pid)/cmdline", encoding: .utf8)
        #expect(commandLine.split(separator: "\0").map(String.init) == [ashitaExecutable] + node.arguments, "ps shows what was run")
        node.signal(SIGTERM)
        #expect(try await node.exitStatus() == 0)
    }

    /// At its first quiet second after 5 s, the node takes the code pages only its start used out of its resident set
    /// (`CodePages`); what it runs next faults back in from the page cache. It goes on serving its page, its
    /// API and its WebSockets, and stops cleanly.
    @Test func aNodeServesOnAfterReleasingItsCodePages() async throws {
        let (node, port) = try await serve(["--log-level", "debug", "--no-verify-announcements"])
        let line = try #require(try await within(30, "the release of start-up pages") {
            try await node.nextErrorLine(containing: "code pages released")
        })
        let bytes = try #require(line.firstMatch(of: /bytes=(\d+)/).flatMap { Int($0.1) }, "\(line)")
        #expect(bytes > 1 << 20, "released only \(bytes) bytes")
        let page = try await CurlHTTPClient().get("http://127.0.0.1:\(port)/")
        #expect(page.status == 200)
        let client = try await WebSocketPeer.local(port: port)
        try await client.send(#"{"type":"auth","node":"home.example:1","content":{}}"#)
        let connected = try await next(client)
        guard case .text(let text) = connected else { Issue.record("\(String(describing: connected))"); return }
        #expect(text.contains("nodeConnected"))
        await client.close()
        node.signal(SIGTERM)
        #expect(try await node.exitStatus() == 0)
    }

    /// Installed as a symbolic link (as package managers and `ln -s` do), `ashita` still finds `ashita-node`
    /// beside the file it links to.
    @Test func aLinkToAshitaStillRunsTheNodeProgram() async throws {
        let link = temporaryDirectory() + "/ashita"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: ashitaExecutable)
        let (program, stderr) = try await serveThrough(link)
        #expect(program == "ashita-node\n")
        #expect(stderr.contains("note:") == false)
    }

    /// A copied `ashita` without `ashita-node` beside it still runs a node, in its own process, and says why
    /// that process is larger.
    @Test func aCopyWithoutTheNodeProgramRunsTheNodeItselfAndSaysSo() async throws {
        let copy = temporaryDirectory() + "/ashita"
        try FileManager.default.copyItem(atPath: ashitaExecutable, toPath: copy)
        let (program, stderr) = try await serveThrough(copy)
        #expect(program == "ashita\n")
        #expect(stderr.hasPrefix("ashita: note: no ashita-node beside this program"))
    }

    @Test func aBusyPortIsOneLineOnStderrAndExit1() async throws {
        let (node, port) = try await serve()
        let second = try await ashita("serve", "\(port)", "--data-dir", temporaryDirectory())
        #expect(second.status == 1)
        #expect(second.stdout.isEmpty, "it never claims to be listening")
        #expect(second.stderr == "ashita: cannot listen on 127.0.0.1:\(port): address already in use — is another node running there? Pick another port or stop it.\n")
        node.signal(SIGTERM)
        #expect(try await node.exitStatus() == 0)
    }

    @Test(arguments: [
        (["serve", "70000"], "port must be from 1 to 65535"),
        (["serve", "8000", "--advertise", "nope"], "--advertise: node must be host:port"),
        (["serve"], "Missing expected argument '<port>'"),
        (["serve", "8000", "--log-level", "loud"], "--log-level"),
        (["serve", "8000", "--bogus"], "Unknown option '--bogus'"),
        (["serve", "8000", "--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"),
        (["serve", "8000", "--max-header-bytes", "10"], "--max-header-bytes must be from 1024 to 65536, got 10"),
        (["serve", "8000", "--message-rate", "0"], "--message-rate must be from 1 to 1000000, got 0"),
        (["serve", "8000", "--auth-timeout=-1"], "--auth-timeout must be from 0.01 to 86400 seconds"),
        (["serve", "8000", "--auth-timeout", "nan"], "--auth-timeout"),
        (["serve", "8000", "--ping-interval", "0.001"], "--ping-interval must be from 0.01 to 86400 seconds, got 0.001;"),
        (["serve", "8000", "--send-timeout", "0"], "--send-timeout must be from 0.01 to 86400 seconds, got 0;"),
        (["serve", "8000", "--max-connections", "0"], "--max-connections must be from 1 to 1000000, got 0"),
        (["serve", "8000", "--allow-checks-to", "everywhere"], "--allow-checks-to takes a network as ADDRESS/BITS"),
        (["serve", "8000", "--allow-checks-to", "10.0.0.0/33"], "--allow-checks-to takes a network as ADDRESS/BITS"),
        (["frob"], "'frob' is not a command; the commands are serve, connect, peers, auth, watch; see 'ashita --help'"),
        (["peers", "127.0.0.1:1", "--timeout", "0"], "--timeout must be more than 0 and at most 3600 seconds, got 0; see 'ashita peers --help'"),
        (["peers", "127.0.0.1:1", "--timeout", "-1"], "--timeout must be more than 0 and at most 3600 seconds, got -1;"),
        (["watch", "127.0.0.1:1", "--count", "-1"], "--count must be at least 1, got -1; see 'ashita watch --help'"),
        (["watch", "127.0.0.1:1", "--types", ","], "--types names no event type"),
        (["auth", "127.0.0.1:1", "--token-file", "/nonexistent/token"], "/nonexistent/token does not exist"),
        (["peers", "127.0.0.1:1", "--ban", "10m"], "--ban goes with --kick"),
        (["peers", "127.0.0.1:1", "--kick", "3", "--ban", "forever"], "--ban takes a duration such as 90, 90s, 10m, 2h or 7d"),
        (["peers", "127.0.0.1:1", "--kick", "3", "--ban", "367d"], "from 1s to 366d; got '367d'"),
        (["peers", "127.0.0.1:1", "--unban", "nope"], "--unban takes a home (host:port) or an address (IP)"),
        (["peers", "127.0.0.1:1", "--bans", "--clients"], "do not go together"),
        (["peers", "127.0.0.1:1", "--mesh", "--node"], "do not go together"),
        (["serve", "8000", "--join", "nope"], "--join: node must be host:port"),
        (["serve", "8000", "--max-links", "0"], "--max-links must be from 1 to 64, got 0"),
        (["serve", "8000", "--suspicion-min", "20"], "--suspicion-min (20) must not exceed --suspicion-max (15)"),
        (["serve", "8000", "--dial-timeout", "0"], "--dial-timeout must be from 0.005 to 86400 seconds, got 0"),
        (["serve", "8000", "--link-message-rate", "0"], "--link-message-rate must be from 1 to 1000000, got 0"),
    ])
    func badArgumentsExit64WithUsage(_ arguments: [String], _ message: String) async throws {
        let result = try await ashita(arguments)
        #expect(result.status == 64)
        #expect(result.stdout.isEmpty)
        // One line, as every error: what is wrong and where to read more.
        #expect(result.stderr.hasPrefix("ashita: ") && result.stderr.filter { $0 == "\n" }.count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test func helpReadsWell() async throws {
        let result = try await ashita("serve", "--help")
        #expect(result.status == 0)
        for expected in ["USAGE: ashita serve [<options>] <port>", "--host <host>", "--advertise <host:port>", "--data-dir <dir>", "--log-level", "(default: 127.0.0.1)", "operator-token"] {
            #expect(result.stdout.contains(expected), "help lacks \(expected)")
        }
    }

    @Test func anUnwritableDataDirectoryIsNamed() async throws {
        let file = temporaryDirectory() + "/plain-file"
        #expect(FileManager.default.createFile(atPath: file, contents: Data()))
        let result = try await ashita("serve", "0", "--data-dir", "\(file)/sub")
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("ashita: \(file)/sub cannot be created"))
    }

    @Test func hostPicksTheListenAddress() async throws {
        let process = try AshitaProcess(["serve", "0", "--host", "127.0.0.2", "--data-dir", temporaryDirectory(), "--no-verify-announcements"])
        let line = try #require(try await process.nextLine())
        let port = try #require(line.firstMatch(of: /^ashita node 127\.0\.0\.2:(\d+) listening on http:\/\/127\.0\.0\.2:(\d+)\/$/).map { Int($0.1)! }, "\(line)")
        let here = try JSONDecoder().decode(NodeStatus.self, from: Data(try await CurlHTTPClient().get("http://127.0.0.2:\(port)/api/v1/node").body))
        #expect(here.node == "127.0.0.2:\(port)")
        // It is not at 127.0.0.1 (another test's node may have that port there, but not this node's id).
        if let elsewhere = try? await CurlHTTPClient(timeoutSeconds: 2).get("http://127.0.0.1:\(port)/api/v1/node") {
            #expect(!elsewhere.text.contains(here.id))
        }
        process.signal(SIGTERM)
        #expect(try await process.exitStatus() == 0)
    }
}
