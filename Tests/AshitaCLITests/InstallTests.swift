import AshitaTestSupport
import Foundation
import Testing

/// The README's install command, `.ci/install`, into a fresh prefix: the folders a fresh machine lacks are
/// made, every file lands with its mode, the installed ashita runs, and `--uninstall` removes exactly those files.
@Suite struct InstallTests {
    static let files: [(String, Int)] = [
        ("bin/ashita", 0o755), ("bin/ashita-node", 0o755), ("share/man/man1/ashita.1", 0o644),
        ("share/bash-completion/completions/ashita", 0o644), ("share/zsh/site-functions/_ashita", 0o644),
        ("share/fish/vendor_completions.d/ashita.fish", 0o644),
    ]

    @Test func installsIntoAFreshPrefixAndUninstalls() async throws {
        let prefix = temporaryDirectory() + "/usr-local"
        let bin = URL(fileURLWithPath: ashitaExecutable).deletingLastPathComponent().path
        let environment = ProcessInfo.processInfo.environment.merging(["PREFIX": prefix, "ASHITA_BIN": bin]) { $1 }
        let script = "\(DocsTests.root)/.ci/install"

        let install = try await runToEnd("/bin/bash", [script], environment: environment, limit: .seconds(60))
        #expect(install.status == 0, "\(install.stderr)")
        for (file, mode) in Self.files {
            let attributes = try FileManager.default.attributesOfItem(atPath: "\(prefix)/\(file)")
            #expect(attributes[.posixPermissions] as? Int == mode, "\(file)")
        }
        let version = try await runToEnd("\(prefix)/bin/ashita", ["--version"], limit: .seconds(30))
        #expect(version.status == 0 && !version.stdout.isEmpty)
        #expect(try String(contentsOfFile: "\(prefix)/share/man/man1/ashita.1", encoding: .utf8).contains(".Sh EXIT STATUS"))

        let uninstall = try await runToEnd("/bin/bash", [script, "--uninstall"], environment: environment, limit: .seconds(60))
        #expect(uninstall.status == 0, "\(uninstall.stderr)")
        for (file, _) in Self.files {
            #expect(!FileManager.default.fileExists(atPath: "\(prefix)/\(file)"), "\(file) is still there")
        }
    }

    @Test func withoutABuildItSaysWhatToRun() async throws {
        let environment = ProcessInfo.processInfo.environment.merging(
            ["PREFIX": temporaryDirectory(), "ASHITA_BIN": temporaryDirectory()]) { $1 }
        let result = try await runToEnd("/bin/bash", ["\(DocsTests.root)/.ci/install"], environment: environment, limit: .seconds(60))
        #expect(result.status == 66)
        #expect(result.stderr.hasSuffix("is missing; run 'swift build -c release' first\n"))
    }
}
