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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: iptables!)
        process.arguments = [on ? "-A" : "-D", "OUTPUT", "-m", "owner", "--uid-owner", "\(uid)", "-j", "DROP"]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchError("iptables \(process.arguments!.joined(separator: " ")) failed") }
    }
}
