#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#endif

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
