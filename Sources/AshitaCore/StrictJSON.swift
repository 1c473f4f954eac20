/// A JSON reader for frames from strangers: RFC 8259 exactly, plus what a node needs to be safe with them.
/// Duplicate keys are refused (browsers keep the last, other parsers the first: the same frame would mean two
/// things), nesting is bounded, numbers must be finite, and every refusal says what is wrong and where.
public enum StrictJSON {
    public static let maxDepth = 32

    public struct SyntaxError: Error, Equatable, Sendable, CustomStringConvertible {
        /// What is wrong, e.g. `duplicate key "type"`.
        public var problem: String
        /// Where, counted in bytes from 0.
        public var offset: Int

        public var description: String { "\(problem) at byte \(offset)" }
    }

    public static func parse(_ bytes: some Collection<UInt8>) -> Result<JSONValue, SyntaxError> {
        var reader = Reader(bytes: Array(bytes))
        do throws(SyntaxError) {
            reader.skipSpace()
            let value = try reader.value(depth: 0)
            reader.skipSpace()
            guard reader.index == reader.bytes.count else { throw reader.error("unexpected text after the value") }
            return .success(value)
        } catch {
            return .failure(error)
        }
    }

    private struct Reader {
        let bytes: [UInt8]
        var index = 0

        func error(_ problem: String, at offset: Int? = nil) -> SyntaxError {
            SyntaxError(problem: problem, offset: offset ?? index)
        }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let c = current, c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D { index += 1 }
        }

        mutating func expect(_ literal: String, _ value: JSONValue) throws(SyntaxError) -> JSONValue {
            for byte in literal.utf8 {
                guard current == byte else { throw error("expected \(literal)") }
                index += 1
            }
            return value
        }

        mutating func value(depth: Int) throws(SyntaxError) -> JSONValue {
            guard let c = current else { throw error("expected a value, found the end") }
            switch c {
            case 0x7B: return try object(depth: depth + 1)
            case 0x5B: return try array(depth: depth + 1)
            case 0x22: return .string(try string())
            case 0x74: return try expect("true", .bool(true))
            case 0x66: return try expect("false", .bool(false))
            case 0x6E: return try expect("null", .null)
            case 0x2D, 0x30...0x39: return .number(try number())
            default: throw error("expected a value, found \(describe(c))")
            }
        }

        mutating func object(depth: Int) throws(SyntaxError) -> JSONValue {
            guard depth <= StrictJSON.maxDepth else { throw error("nested deeper than \(StrictJSON.maxDepth) levels") }
            index += 1
            var fields: [String: JSONValue] = [:]
            skipSpace()
            if current == 0x7D {
                index += 1
                return .object(fields)
            }
            while true {
                skipSpace()
                guard current == 0x22 else { throw error("expected a key in quotes") }
                let keyOffset = index
                let key = try string()
                skipSpace()
                guard current == 0x3A else { throw error("expected : after a key") }
                index += 1
                skipSpace()
                let value = try value(depth: depth)
                guard fields.updateValue(value, forKey: key) == nil else {
                    throw error("duplicate key \(quoted(key))", at: keyOffset)
                }
                skipSpace()
                switch current {
                case 0x2C: index += 1
                case 0x7D:
                    index += 1
                    return .object(fields)
                default: throw error("expected , or } in an object")
                }
            }
        }

        mutating func array(depth: Int) throws(SyntaxError) -> JSONValue {
            guard depth <= StrictJSON.maxDepth else { throw error("nested deeper than \(StrictJSON.maxDepth) levels") }
            index += 1
            var items: [JSONValue] = []
            skipSpace()
            if current == 0x5D {
                index += 1
                return .array(items)
            }
            while true {
                skipSpace()
                items.append(try value(depth: depth))
                skipSpace()
                switch current {
                case 0x2C: index += 1
                case 0x5D:
                    index += 1
                    return .array(items)
                default: throw error("expected , or ] in an array")
                }
            }
        }

        mutating func string() throws(SyntaxError) -> String {
            let start = index
            index += 1
            var out: [UInt8] = []
            while true {
                guard let c = current else { throw error("unterminated string", at: start) }
                switch c {
                case 0x22:
                    index += 1
                    // The frame was checked to be UTF-8, and escapes only add whole scalars.
                    return String(decoding: out, as: UTF8.self)
                case 0x5C:
                    index += 1
                    try escape(into: &out)
                case 0..<0x20:
                    throw error("control character \(describe(c)) in a string")
                default:
                    out.append(c)
                    index += 1
                }
            }
        }

        mutating func escape(into out: inout [UInt8]) throws(SyntaxError) {
            guard let c = current else { throw error("unterminated escape") }
            index += 1
            switch c {
            case 0x22, 0x5C, 0x2F: out.append(c)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                let escapeStart = index - 2
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard current == 0x5C, index + 1 < bytes.count, bytes[index + 1] == 0x75 else {
                        throw error("\\u escape is half of a surrogate pair", at: escapeStart)
                    }
                    index += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else {
                        throw error("\\u escape is half of a surrogate pair", at: escapeStart)
                    }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw error("\\u escape is half of a surrogate pair", at: escapeStart)
                }
                out.append(contentsOf: String(Character(Unicode.Scalar(scalar)!)).utf8)
            default:
                throw error("unknown escape \\\(describe(c))", at: index - 2)
            }
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let c = current else { throw error("\\u escape needs four hex digits") }
                let digit: UInt8
                switch c {
                case 0x30...0x39: digit = c - 0x30
                case 0x61...0x66: digit = c - 0x61 + 10
                case 0x41...0x46: digit = c - 0x41 + 10
                default: throw error("\\u escape needs four hex digits")
                }
                value = value << 4 | UInt32(digit)
                index += 1
            }
            return value
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, finite as a Double.
        mutating func number() throws(SyntaxError) -> Double {
            let start = index
            if current == 0x2D { index += 1 }
            func digits(_ reader: inout Reader) -> Int {
                var n = 0
                while let c = reader.current, (0x30...0x39).contains(c) {
                    reader.index += 1
                    n += 1
                }
                return n
            }
            if current == 0x30 {
                index += 1
                if let c = current, (0x30...0x39).contains(c) { throw error("number with a leading zero", at: start) }
            } else if digits(&self) == 0 {
                throw error("expected digits in a number")
            }
            if current == 0x2E {
                index += 1
                guard digits(&self) > 0 else { throw error("expected digits after the decimal point") }
            }
            if current == 0x65 || current == 0x45 {
                index += 1
                if current == 0x2B || current == 0x2D { index += 1 }
                guard digits(&self) > 0 else { throw error("expected digits in the exponent") }
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            guard let value = Double(text), value.isFinite else {
                throw error("number \(quoted(text, limit: 24)) is out of range", at: start)
            }
            return value
        }

        func describe(_ c: UInt8) -> String {
            (0x21...0x7E).contains(c) ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
        }
    }
}
