import Foundation

/// A member that falls silent without closing anything: it runs as user `nobody`, and an iptables rule on the
/// machine's OUTPUT chain (loopback included) drops every packet that user's sockets send, so the others hear
/// nothing more from it while it lives — no FIN, no RST, no refused connection. The same for ashita and Serf.
/// Root only; the rule is removed as soon as the measurement ends.
enum SilentDrop {
    static let uid = 65534
    static let iptables = ["/usr/sbin/iptables", "/sbin/iptables"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"].first { FileManager.default.isExecutableFile(atPath: $0) }

    static var available: Bool { geteuid() == 0 && iptables != nil && setpriv != nil }

    /// What to run a member's command under so that `drop(true)` silences it.
    static var launcher: [String] { [setpriv!, "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups", "--"] }

    /// Adds (`true`) or removes the rule.
    static func drop(_ on: Bool) throws {
        guard rule(on ? "-A" : "-D") else { throw BenchError("iptables \(on ? "-A" : "-D") OUTPUT … --uid-owner \(uid) -j DROP failed") }
    }

    /// Removes the rule wherever an earlier run left it (one killed while a member was silenced): a member started
    /// as `nobody` while it is there can never answer. Returns how many were removed.
    static func removeLeftovers() -> Int {
        var removed = 0
        while removed < 100, rule("-C"), rule("-D") { removed += 1 }
        return removed
    }

    private static func rule(_ command: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: iptables!)
        process.arguments = [command, "OUTPUT", "-m", "owner", "--uid-owner", "\(uid)", "-j", "DROP"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
