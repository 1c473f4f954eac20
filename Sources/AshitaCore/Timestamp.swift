/// Wall-clock time in milliseconds since the Unix epoch. The core never reads a clock: callers pass one in.
public struct Timestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var milliseconds: Int64

    public init(milliseconds: Int64) { self.milliseconds = milliseconds }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.milliseconds < b.milliseconds }

    public func adding(milliseconds delta: Int64) -> Timestamp { Timestamp(milliseconds: milliseconds + delta) }

    /// RFC 3339 in UTC with milliseconds, e.g. `2026-11-26T07:30:00.123Z`.
    public var iso8601: String {
        let (days, msOfDay) = milliseconds.floorDivided(by: 86_400_000)
        let (year, month, day) = Self.civil(fromDays: days)
        func pad(_ n: Int64, _ width: Int) -> String {
            let digits = String(n)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(msOfDay / 3_600_000, 2)):"
            + "\(pad(msOfDay / 60_000 % 60, 2)):\(pad(msOfDay / 1000 % 60, 2)).\(pad(msOfDay % 1000, 3))Z"
    }

    /// Reads what `iso8601` writes (`YYYY-MM-DDTHH:MM:SS[.fff]Z`); nil for anything else.
    public init?(iso8601 text: String) {
        let digits = text.utf8.map { Int64($0) - 48 }
        func number(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= digits.count else { return nil }
            var n: Int64 = 0
            for d in digits[from..<(from + count)] {
                guard (0...9).contains(d) else { return nil }
                n = n * 10 + d
            }
            return n
        }
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z"), bytes[4] == 45, bytes[7] == 45, bytes[10] == 84,
            let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
            let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2), (1...12).contains(month)
        else { return nil }
        var millis: Int64 = 0
        if bytes[19] == 46 {
            let fraction = bytes.count - 21
            guard (1...9).contains(fraction), let f = number(20, fraction) else { return nil }
            millis = fraction >= 3 ? f / Int64(pow10(fraction - 3)) : f * Int64(pow10(3 - fraction))
        } else if bytes.count != 20 {
            return nil
        }
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        self.init(milliseconds: ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
    }

    /// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's days-to-civil).
    static func civil(fromDays z0: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    public var description: String { iso8601 }
}

extension Int64 {
    fileprivate func floorDivided(by d: Int64) -> (Int64, Int64) {
        let q = self >= 0 ? self / d : (self - d + 1) / d
        return (q, self - q * d)
    }
}

private func pow10(_ n: Int) -> Int {
    (0..<n).reduce(1) { value, _ in value * 10 }
}
