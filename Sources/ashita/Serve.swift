import AshitaTerminal

#if canImport(Glibc)
import Glibc
#endif

/// `ashita serve` runs in `ashita-node`, the executable built and installed beside this one: the same command
/// line, parsed again by the same `ServeCommand`, in a program that links none of the client's libraries, so the
/// node maps neither libcurl nor its TLS stacks. `exec` keeps the process: its id (signals and pid files reach
/// the node), its command line in `ps`, its descriptors and environment. Without `ashita-node` beside this
/// program (a copied binary), the node runs in this process after a note on stderr.
enum NodeExecutable {
    static let name = "ashita-node"

    /// Replaces this process with `ashita-node`; returns only when that cannot be done.
    static func replaceThisProcess() {
        #if os(Linux)
        guard let path = besideThisProgram(), access(path, X_OK) == 0 else {
            printError("ashita: note: no \(name) beside this program, so the node runs in this process, with the client's libraries mapped too; install both (see the README)")
            return
        }
        // A new program keeps the calling thread's signal mask: the node must receive SIGINT and SIGTERM.
        var nothing = sigset_t()
        sigemptyset(&nothing)
        pthread_sigmask(SIG_SETMASK, &nothing, nil)
        let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
        execv(path, arguments)
        let reason = String(cString: strerror(errno))
        arguments.forEach { free($0) }
        printError("ashita: note: could not run \(path) (\(reason)), so the node runs in this process")
        #endif
    }

    /// `ashita-node` in the directory of the running program (resolved through symbolic links).
    private static func besideThisProgram() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        let program = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = program.lastIndex(of: "/") else { return nil }
        return program[...slash] + name
    }
}
