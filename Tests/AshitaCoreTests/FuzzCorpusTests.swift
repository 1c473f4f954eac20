import AshitaCore
import AshitaFuzzHarness
import Foundation
import Testing

/// Every input in Tests/fuzz/corpus (seeds, and each crash the fuzzer ever found) through the fuzz harness:
/// what once broke an invariant stays a test.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fuzz/corpus")

    static let inputs: [String] = (try? FileManager.default.contentsOfDirectory(atPath: corpus.path).sorted()) ?? []

    @Test func theCorpusIsThere() {
        #expect(Self.inputs.count >= 4)
    }

    @Test(arguments: inputs)
    func replays(_ name: String) throws {
        let bytes = try Data(contentsOf: Self.corpus.appendingPathComponent(name))
        FuzzHarness.run(Array(bytes))
    }

    /// Inputs a fixed generator makes, so the state machine sees long scripts on every run too.
    @Test func randomScriptsKeepTheInvariants() {
        var generator = SeededRandom(seed: 0xA5417A)
        for _ in 0..<300 {
            let length = Int(generator.next() % 400)
            FuzzHarness.run((0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) })
        }
    }
}
