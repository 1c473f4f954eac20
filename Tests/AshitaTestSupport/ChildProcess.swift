import AshitaSystem
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A process the tests start: `posix_spawn` with every descriptor but its standard three closed in the child,
/// its exit awaited without holding a thread of the cooperative pool.
///
/// Not Foundation's `Process`: on Linux it learns of an exit when a socket the child inherited closes, and
/// neither that socket nor a `Pipe` is close-on-exec, so a child that another test spawns at the same moment
/// can inherit them. The exit (or the end of the output) then goes unseen until that other child ends: in CI
/// a node that stopped at once looked hung for 20 s. Here the child closes everything from 3 up as it
/// starts (`posix_spawn_file_actions_addclosefrom_np`), and a thread of its own waits for the exit.
public final class ChildProcess: Sendable {
    /// Children not reaped yet, killed when the test process exits: a test that fails before it stops its nodes
    /// leaves none running behind the suite.
    private static let unreaped = Mutex<Set<pid_t>>([])
    private static let killedAtExit: Void = {
        atexit {
            for pid in ChildProcess.unreaped.withLock({ $0 }) { kill(pid, SIGKILL) }
        }
    }()

    public enum Stream: Sendable {
        /// A pipe whose read end the test gets.
        case pipe
        /// `/dev/null`.
        case discard
    }

    public let pid: pid_t
    public let arguments: [String]
    /// The read end of the child's stdout, when `.pipe`.
    public let standardOutput: FileHandle?
    /// The read end of the child's stderr, when `.pipe`.
    public let standardError: FileHandle?
    private let exit = Mutex<(status: Int32?, waiters: [CheckedContinuation<Int32, Never>])>((nil, []))

    /// Starts `executable` with `arguments` (and `environment`, or the tests' own); stdin is `/dev/null`.
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        standardOutput: Stream = .pipe, standardError: Stream = .pipe
    ) throws {
        self.arguments = arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let null = open("/dev/null", O_RDWR | O_CLOEXEC)
        guard null >= 0 else { throw SpawnError("cannot open /dev/null: errno \(errno)") }
        defer { close(null) }
        var parentEnds: [Int32] = []
        var childEnds: [Int32] = []
        defer { for fd in childEnds { close(fd) } }
        func plan(_ stream: Stream, as target: Int32) throws -> FileHandle? {
            switch stream {
            case .discard:
                posix_spawn_file_actions_adddup2(&actions, null, target)
                return nil
            case .pipe:
                var ends: [Int32] = [0, 0]
                guard pipe(&ends) == 0 else { throw SpawnError("cannot create a pipe: errno \(errno)") }
                for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
                parentEnds.append(ends[0])
                childEnds.append(ends[1])
                posix_spawn_file_actions_adddup2(&actions, ends[1], target)
                return FileHandle(fileDescriptor: ends[0], closeOnDealloc: true)
            }
        }
        posix_spawn_file_actions_adddup2(&actions, null, STDIN_FILENO)
        let out = try plan(standardOutput, as: STDOUT_FILENO)
        let err = try plan(standardError, as: STDERR_FILENO)
        guard Self.closeFrom(&actions, 3) == 0 else { throw SpawnError("posix_spawn cannot close inherited descriptors") }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The default signal mask and dispositions: a test's thread blocks SIGTERM and SIGINT (libdispatch's
        // workers do), and a child would inherit that. Its own process group, as Foundation gives it.
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2] { sigaddset(&defaults, number) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let environmentLines = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var spawned = pid_t()
        let result = Self.withCStrings([executable] + arguments) { argv in
            Self.withCStrings(environmentLines) { envp in
                posix_spawn(&spawned, executable, &actions, &attributes, argv, envp)
            }
        }
        guard result == 0 else {
            for fd in parentEnds { close(fd) }
            throw SpawnError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        let pid = spawned
        Self.killedAtExit
        Self.unreaped.withLock { _ = $0.insert(pid) }
        self.pid = pid
        self.standardOutput = out
        self.standardError = err
        Thread.detachNewThread { [self] in
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            Self.unreaped.withLock { _ = $0.remove(pid) }
            // As Foundation reports it: the exit code, or the number of the signal that ended it.
            let code = status & 0x7f == 0 ? (status >> 8) & 0xff : status & 0x7f
            let waiters = exit.withLock { state in
                state.status = code
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: code) }
        }
    }

    /// Sends `number` to the process.
    public func signal(_ number: Int32) { kill(pid, number) }

    /// The exit code, or the number of the signal that ended it; waits for the exit.
    public func status() async -> Int32 {
        await withCheckedContinuation { continuation in
            let known = exit.withLock { state -> Int32? in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let known { continuation.resume(returning: known) }
        }
    }

    /// Everything on the child's stdout and stderr until it closes them, read on threads of their own.
    public func readToEnd() async -> (stdout: String, stderr: String) {
        async let out = Self.readAll(standardOutput)
        async let err = Self.readAll(standardError)
        return await (out, err)
    }

    private static func readAll(_ handle: FileHandle?) async -> String {
        guard let handle else { return "" }
        return await onDedicatedThread { String(decoding: handle.readDataToEndOfFile(), as: UTF8.self) }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc module does not
    /// export.
    private static func closeFrom(_ actions: inout posix_spawn_file_actions_t, _ lowest: Int32) -> Int32 {
        typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return -1 }
        return unsafeBitCast(symbol, to: AddCloseFrom.self)(&actions, lowest)
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return body(pointers)
    }
}

public struct SpawnError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Runs `executable` to its end: exit status, all of stdout, all of stderr. Reading a pipe cannot be cancelled,
/// so the guard against a hang is killing the process after `limit` (× `hangGuardPatience`): the test then fails
/// on its status (9, SIGKILL) instead of hanging.
public func runToEnd(
    _ executable: String, _ arguments: [String], environment: [String: String]? = nil, limit: Duration
) async throws -> (status: Int32, stdout: String, stderr: String) {
    let child = try ChildProcess(executable, arguments, environment: environment)
    let watchdog = Task {
        try await Task.sleep(for: limit * hangGuardPatience)
        child.signal(SIGKILL)
    }
    defer { watchdog.cancel() }
    let (out, err) = await child.readToEnd()
    return (await child.status(), out, err)
}

/// The `ashita` executable `swift test` built beside the test bundle (or `$ASHITA_BIN`).
public let ashitaExecutable: String = {
    if let override = ProcessInfo.processInfo.environment["ASHITA_BIN"] { return override }
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    return bundle.appendingPathComponent("ashita").path
}()
