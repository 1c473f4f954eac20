import AshitaClient
import AshitaCore
import AshitaTerminal

#if canImport(Glibc)
import Glibc
#endif

/// Text for people: aligned columns, colour only on a terminal and never with NO_COLOR.
enum Output {
    static let colour: Bool = isatty(1) == 1 && getenv("NO_COLOR") == nil && getenv("TERM").map { String(cString: $0) } != "dumb"

    static func bold(_ text: String) -> String { colour ? "\u{1B}[1m\(text)\u{1B}[0m" : text }

    static func clean(_ text: String) -> String { Terminal.clean(text) }
    static func dim(_ text: String) -> String { colour ? "\u{1B}[2m\(text)\u{1B}[0m" : text }

    /// A header and rows, each column as wide as its widest cell, two spaces apart.
    static func table(_ header: [String], _ untrusted: [[String]]) -> String {
        let rows = untrusted.map { $0.map(clean) }
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }.joined(separator: "  ")
        }
        return ([bold(line(header))] + rows.map(line)).joined(separator: "\n")
    }

    /// "12s ago", "5m ago", "3h ago", "2d ago"; the text itself when it is not a time.
    static func age(_ iso8601: String, now: Timestamp = .now()) -> String {
        guard let then = Timestamp(iso8601: iso8601) else { return iso8601 }
        let seconds = max(0, (now.milliseconds - then.milliseconds) / 1000)
        switch seconds {
        case ..<60: return "\(seconds)s ago"
        case ..<3600: return "\(seconds / 60)m ago"
        case ..<86400: return "\(seconds / 3600)h ago"
        default: return "\(seconds / 86400)d ago"
        }
    }

    /// How long until an RFC 3339 time: "5m 3s"; "ended" once past.
    static func left(_ iso8601: String, now: Timestamp = .now()) -> String {
        guard let then = Timestamp(iso8601: iso8601) else { return iso8601 }
        let seconds = (then.milliseconds - now.milliseconds) / 1000
        return seconds > 0 ? duration(seconds: Int(seconds)) : "ended"
    }

    /// "42s", "5m 3s", "3h 12m", "2d 4h".
    static func duration(seconds: Int) -> String {
        switch seconds {
        case ..<60: "\(seconds)s"
        case ..<3600: "\(seconds / 60)m \(seconds % 60)s"
        case ..<86400: "\(seconds / 3600)h \(seconds % 3600 / 60)m"
        default: "\(seconds / 86400)d \(seconds % 86400 / 3600)h"
        }
    }

    /// `HH:MM:SS ZONE` of a journal time in the local time zone (`TZ` respected), for one line per event: the
    /// zone is named, so a time is never read in the wrong one. JSON keeps the node's RFC 3339 UTC.
    static func clock(_ iso8601: String) -> String { local(iso8601, format: "%H:%M:%S %Z") }

    /// `YYYY-MM-DD HH:MM:SS ZONE` in the local time zone, for times that may be days away.
    static func dateTime(_ iso8601: String) -> String { local(iso8601, format: "%Y-%m-%d %H:%M:%S %Z") }

    private static func local(_ iso8601: String, format: String) -> String {
        guard let time = Timestamp(iso8601: iso8601) else { return iso8601 }
        var seconds = time_t(time.milliseconds / 1000)
        var local = tm()
        guard localtime_r(&seconds, &local) != nil else { return iso8601 }
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, format, &local)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
