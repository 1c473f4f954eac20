import AshitaTestSupport
import Foundation
import Testing

/// The committed completion scripts, run by real shells (bash, zsh and fish; `.ci/run` installs them) against real
/// files: options that take a file or a directory complete paths, and `--types` completes event types, the
/// next one of a comma-separated list too.
@Suite struct CompletionTests {
    /// A directory holding `token.txt` and `data/`, named by an absolute path so no working directory matters.
    private func place() throws -> String {
        let directory = temporaryDirectory()
        try writeFile("\(directory)/token.txt", "x")
        try FileManager.default.createDirectory(atPath: "\(directory)/data", withIntermediateDirectories: true)
        return directory
    }

    /// What the shell offers for the last word of `words` (`ashita` on PATH, for completions it computes).
    private func offered(by shell: String, _ words: [String]) async throws -> [String] {
        let bin = URL(fileURLWithPath: ashitaExecutable).deletingLastPathComponent().path
        let environment = ProcessInfo.processInfo.environment.merging(["PATH": "\(bin):/usr/bin:/bin"]) { $1 }
        let result: (status: Int32, stdout: String, stderr: String)
        switch shell {
        case "bash":
            result = try await runToEnd(
                "/bin/bash", ["\(DocsTests.root)/Tests/completion/complete.bash", "\(DocsTests.root)/completions/ashita.bash"] + words,
                environment: environment, limit: .seconds(30))
        default:
            let line = words.joined(separator: " ")
            result = try await runToEnd(
                "/usr/bin/fish", ["--no-config", "-c", "source \(DocsTests.root)/completions/ashita.fish; complete -C '\(line)'"],
                environment: environment, limit: .seconds(30))
        }
        #expect(result.status == 0, "\(shell): \(result.stderr)")
        // fish adds a description after a tab.
        return result.stdout.split(separator: "\n").map { String($0.split(separator: "\t").first ?? "") }
    }

    @Test(arguments: ["bash", "fish"])
    func fileOptionsCompletePaths(_ shell: String) async throws {
        #expect(FileManager.default.isExecutableFile(atPath: shell == "bash" ? "/bin/bash" : "/usr/bin/fish"),
                "\(shell) is missing: apt-get install \(shell) (bash .ci/run does)")
        let directory = try place()
        for (words, expected) in [
            (["ashita", "auth", "127.0.0.1:1", "--token-file", "\(directory)/t"], "\(directory)/token.txt"),
            (["ashita", "peers", "127.0.0.1:1", "--cacert", "\(directory)/t"], nil),
            (["ashita", "serve", "8000", "--tls-cert", "\(directory)/t"], "\(directory)/token.txt"),
            (["ashita", "serve", "8000", "--tls-key", "\(directory)/t"], "\(directory)/token.txt"),
        ] as [([String], String?)] {
            let offers = try await offered(by: shell, words)
            if let expected {
                #expect(offers == [expected], "\(shell) \(words.joined(separator: " ")): \(offers)")
            } else {
                // --cacert offers only certificates (*.pem, *.crt), and directories to look in.
                #expect(!offers.contains("\(directory)/token.txt"), "\(shell): \(offers)")
            }
        }
        for words in [["ashita", "serve", "8000", "--data-dir", "\(directory)/d"], ["ashita", "auth", "127.0.0.1:1", "--data-dir", "\(directory)/d"]] {
            let offers = try await offered(by: shell, words)
            #expect(offers.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } == ["\(directory)/data"], "\(shell): \(offers)")
        }
    }

    /// zsh, interactive in a pseudo-terminal: the line after Tab shows the completion (file, directory, type).
    @Test func zshCompletesPathsAndTypes() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: "/usr/bin/zsh"), "zsh is missing: apt-get install zsh (bash .ci/run does)")
        let directory = try place()
        let bin = URL(fileURLWithPath: ashitaExecutable).deletingLastPathComponent().path
        let environment = ProcessInfo.processInfo.environment.merging(["PATH": "\(bin):/usr/bin:/bin"]) { $1 }
        for (line, expected) in [
            ("ashita auth 127.0.0.1:1 --token-file \(directory)/t", "\(directory)/token.txt"),
            ("ashita serve 8000 --tls-key \(directory)/t", "\(directory)/token.txt"),
            ("ashita serve 8000 --data-dir \(directory)/d", "\(directory)/data"),
            ("ashita watch 127.0.0.1:1 --types nodeLe", "--types nodeLeft"),
        ] {
            // The script waits until the line shows `expected`; one that never does meets the time limit.
            let result = try await runToEnd(
                "/usr/bin/zsh", ["-f", "\(DocsTests.root)/Tests/completion/complete.zsh", "\(DocsTests.root)/completions", line, expected],
                environment: environment, limit: .seconds(20))
            #expect(result.status == 0 && result.stdout == expected + "\n", "zsh: \(line) → \(result.stdout) \(result.stderr)")
        }
    }

    /// fish's `complete -C` cannot run the parser's own completion outside an interactive shell; bash can.
    @Test func typesCompleteOneAfterAnother() async throws {
        #expect(try await offered(by: "bash", ["ashita", "watch", "127.0.0.1:1", "--types", "nodeL"]) == ["nodeLeft"])
        let next = try await offered(by: "bash", ["ashita", "watch", "127.0.0.1:1", "--types", "nodeLeft,node"])
        #expect(next == ["nodeLeft,nodeDiscovered", "nodeLeft,nodeOperatorConnected", "nodeLeft,nodeUnverified"])
    }
}
