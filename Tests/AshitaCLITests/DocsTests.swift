import AshitaTestSupport
import Foundation
import Testing

/// completions/ and man/ are generated from the argument parser by .ci/generate-docs; these fail when stale.
@Suite struct DocsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test(arguments: [("bash", "ashita.bash"), ("zsh", "_ashita"), ("fish", "ashita.fish")])
    func completionsMatchTheParser(_ shell: String, _ file: String) async throws {
        let generated = try await ashita("--generate-completion-script", shell)
        #expect(generated.status == 0)
        let committed = try String(contentsOfFile: "\(Self.root)/completions/\(file)", encoding: .utf8)
        #expect(committed == generated.stdout, "completions/\(file) is stale: run .ci/generate-docs")
    }

    @Test func theManPageWasGeneratedFromTheCurrentParser() async throws {
        let page = try String(contentsOfFile: "\(Self.root)/man/ashita.1", encoding: .utf8)
        let help = try await ashita("--experimental-dump-help")
        #expect(help.status == 0)
        let digest = try await sha256(help.stdout)
        #expect(page.contains(".\\\" help-digest: \(digest)\n"), "man/ashita.1 is stale: run .ci/generate-docs")
        for section in ["EXIT STATUS", "ENVIRONMENT", "FILES", "EXAMPLES", "JSON OUTPUT"] {
            #expect(page.contains(".Sh \(section)\n"))
        }
        for command in ["serve", "connect", "peers", "auth", "watch"] {
            #expect(page.contains(command))
        }
    }

    /// Every limit SECURITY.md gives a number for (`--flag` N, with its unit) is the default `serve --help`
    /// shows: the documented defaults are the real ones.
    @Test func theDocumentedDefaultLimitsAreTheRealOnes() async throws {
        let security = try String(contentsOfFile: "\(Self.root)/.github/SECURITY.md", encoding: .utf8)
        let help = try await ashita("serve", "--help")
        let flat = help.stdout.replacingOccurrences(of: "\n", with: " ").replacing(/\s+/, with: " ")
        var checked = 0
        for match in security.matches(of: /`(--[a-z-]+)` ([0-9][0-9,.]*)( KiB| MiB| s|\/s)?/) {
            let flag = String(match.1)
            var value = Double(match.2.replacingOccurrences(of: ",", with: ""))!
            if match.3 == " KiB" { value *= 1024 } else if match.3 == " MiB" { value *= 1024 * 1024 }
            let shown = try #require(
                flat.firstMatch(of: Regex("\\Q\(flag) <\\E[^>]+> .*?\\(default: ([0-9.]+)\\)")), "\(flag) has no default in serve --help")
            let real = Double(String(shown.output[1].substring ?? ""))
            #expect(real == value, "SECURITY.md says \(flag) \(match.2)\(match.3 ?? ""), serve --help says \(String(describing: real))")
            checked += 1
        }
        #expect(checked >= 15, "only \(checked) documented limits found")
    }

    private func sha256(_ text: String) async throws -> String {
        let file = temporaryDirectory() + "/help.json"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let (_, out, _) = try await runToEnd("/usr/bin/sha256sum", [file], limit: .seconds(30))
        return String(out.prefix(64))
    }
}
