import ArgumentParser

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#endif

/// Exit codes scripts can rely on (sysexits.h where one fits). The man page lists them.
enum Exit {
    static let failure: Int32 = 1
    static let usage: Int32 = 64
    static let unavailable: Int32 = 69
    static let noPermission: Int32 = 77
}

/// Prints `ashita: MESSAGE` on stderr and exits with `code`: one line that says what happened and what to do.
func fail(_ message: String, code: Int32 = Exit.failure) -> ExitCode {
    printError("ashita: \(message)")
    return ExitCode(code)
}

/// One line on stderr, with anything a node said in it made safe for a terminal.
func printError(_ line: String) {
    var bytes = Array((Output.clean(line) + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

/// Writes a line to stdout and flushes, so a script reading it sees it at once.
func printLine(_ line: String) {
    print(line)
    fflush(nil)
}

/// One JSON object on one line, keys sorted: the CLI's stable `--json` form.
func jsonLine(_ value: some Encodable) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    // The CLI's own values (strings, numbers, booleans, JSON it parsed) always encode.
    return String(decoding: try! encoder.encode(value), as: UTF8.self)
}

/// A document exactly as the node sent it, ending in one newline.
func writeRaw(_ bytes: [UInt8]) {
    var out = bytes
    if out.last != 0x0A { out.append(0x0A) }
    fflush(nil)
    _ = out.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}
