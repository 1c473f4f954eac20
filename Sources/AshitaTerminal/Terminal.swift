import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// Exit codes scripts can rely on (sysexits.h where one fits). The man page lists them.
public enum Exit {
    public static let failure: Int32 = 1
    public static let usage: Int32 = 64
    public static let unavailable: Int32 = 69
    public static let noPermission: Int32 = 77
}

/// A command that failed: one line that says what happened and what to do, and the exit code. Thrown as a value;
/// `CommandEntry` prints it once, as `ashita: MESSAGE` on stderr, and exits with `code`.
public struct CommandFailure: Error, CustomStringConvertible {
    public var message: String
    public var code: Int32
    public var description: String { message }
}

/// The failure to throw: `throw fail("…", code: Exit.unavailable)`.
public func fail(_ message: String, code: Int32 = Exit.failure) -> CommandFailure {
    CommandFailure(message: message, code: code)
}

/// One line on stderr, with anything a node said in it made safe for a terminal.
public func printError(_ line: String) {
    var bytes = Array((Terminal.clean(line) + "\n").utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

/// Writes a line to stdout and flushes, so a script reading it sees it at once.
public func printLine(_ line: String) {
    print(line)
    fflush(nil)
}

public enum Terminal {
    /// Text from a node made safe for a terminal: control characters (which could move the cursor, clear the
    /// screen or set the window title) and bidirectional overrides (which could make text read backwards)
    /// shown as `\u{…}` escapes. JSON output needs none of this: its encoder escapes them.
    public static func clean(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0..<0x20, 0x7F...0x9F, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069:
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
