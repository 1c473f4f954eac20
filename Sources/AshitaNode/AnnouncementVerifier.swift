import AshitaSystem
import AshitaCore
import Logging
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Carries out `AnnouncementChecks`: resolves names, contacts destinations with `AnnouncementProbe`, and hands
/// every outcome to the hub. One loop owns the rules' state; resolutions and contacts are its child tasks and
/// come back to it as events, so it never waits on a socket or a resolver.
final class AnnouncementVerifier: Sendable {
    enum Event: Sendable {
        case submit(NodeAddress, announcer: String, known: Bool)
        case resolved(NodeAddress, [IPAddress], failure: String?)
        case contacted(NodeAddress, AnnouncementChecks.Destination, AnnouncementChecks.Outcome)
        case tick
    }

    struct Settings: Sendable {
        var limits: AnnouncementChecks.Limits
        var policy: AnnouncementPolicy
        /// How long one contact may take for an address a check has verified before; unknown ones get half.
        var timeout: TimeAmount
        var maxAnswerBytes: Int
        /// Rates and caches count on its monotonic clock: they must not jump with the wall clock.
        var clock: NodeClock
    }

    private let settings: Settings
    private let resolvers = Resolvers()
    private let events: AsyncStream<Event>
    private let sink: AsyncStream<Event>.Continuation
    private let logger: Logger

    init(_ settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        (events, sink) = AsyncStream.makeStream(of: Event.self)
    }

    /// Asks for `address` to be checked; `known`: a check found a node there before (it gets the full timeout).
    func submit(_ address: NodeAddress, announcer: String, known: Bool) {
        sink.yield(.submit(address, announcer: announcer, known: known))
    }

    /// Ends `run` once what is under way has been stopped.
    func stop() { sink.finish() }

    /// Runs until `stop()`, reporting each decided address with `report`.
    func run(report: @escaping @Sendable (NodeAddress, AnnouncementChecks.Outcome) async -> Void) async {
        var checks = AnnouncementChecks(limits: settings.limits, policy: settings.policy, at: settings.clock.monotonicTimestamp())
        var known: Set<NodeAddress> = []
        var failures = FailureSummary()
        var timerDue: Timestamp?
        let probe = AnnouncementProbe(maxAnswerBytes: settings.maxAnswerBytes)
        let (sink, timeout) = (self.sink, settings.timeout)
        await withDiscardingTaskGroup { group in
            for await event in events {
                let now = settings.clock.monotonicTimestamp()
                var reports: [AnnouncementChecks.Report] = []
                switch event {
                case .submit(let address, let announcer, let isKnown):
                    if isKnown { known.insert(address) }
                    reports += checks.submit(address, announcer: announcer, at: now)
                case .resolved(let address, let ips, let failure):
                    reports += checks.resolved(address, to: ips, failure: failure, at: now)
                case .contacted(let address, let destination, let outcome):
                    reports += checks.contacted(address, at: destination, outcome, now: now)
                case .tick:
                    if let due = timerDue, due <= now { timerDue = nil }
                }
                let plan = checks.step(at: now)
                reports += plan.reports
                for work in plan.work {
                    switch work {
                    case .resolve(let address):
                        let resolvers = self.resolvers
                        group.addTask {
                            let (ips, failure) = await resolvers.resolve(address.host, within: timeout)
                            sink.yield(.resolved(address, ips, failure: failure))
                        }
                    case .contact(let address, let destination):
                        let limit = known.contains(address) ? timeout : .nanoseconds(timeout.nanoseconds / 2)
                        group.addTask {
                            let outcome = await probe.check(address, at: destination, timeout: limit)
                            sink.yield(.contacted(address, destination, outcome))
                        }
                    }
                }
                if let wakeUp = plan.wakeUp, timerDue.map({ wakeUp < $0 }) ?? true {
                    timerDue = wakeUp
                    group.addTask {
                        try? await Task.sleep(for: .milliseconds(max(0, wakeUp.milliseconds - now.milliseconds)))
                        sink.yield(.tick)
                    }
                }
                for decided in reports {
                    known.remove(decided.address)
                    if case .failure(let failure) = decided.outcome, let line = failures.record(decided.address, failure, at: now) {
                        logger.info("\(line)")
                    }
                    await report(decided.address, decided.outcome)
                }
            }
            group.cancelAll()
        }
    }

    /// The addresses a name resolves to, in the resolver's order; empty when it does not resolve. Blocking.
    static func resolve(_ host: String) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0 else { return [] }
        defer { freeaddrinfo(list) }
        var found: [IPAddress] = []
        var entry = list
        while let info = entry?.pointee {
            defer { entry = info.ai_next }
            guard let socketAddress = info.ai_addr else { continue }
            let bytes: [UInt8]
            switch Int32(socketAddress.pointee.sa_family) {
            case AF_INET:
                bytes = socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    withUnsafeBytes(of: $0.pointee.sin_addr) { Array($0) }
                }
            case AF_INET6:
                bytes = socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    withUnsafeBytes(of: $0.pointee.sin6_addr) { Array($0) }
                }
            default:
                continue
            }
            if let ip = IPAddress(bytes: bytes), !found.contains(ip) { found.append(ip) }
        }
        return found
    }
}

/// Name resolution with a deadline. The system resolver blocks and cannot be stopped, so each resolution runs
/// on a thread of its own, the check stops waiting for it at the deadline, and threads still blocked count
/// against a cap: a zone that never answers cannot pile up threads.
final class Resolvers: Sendable {
    static let maxThreads = 16
    private let threads = Mutex(0)

    func resolve(_ host: String, within timeout: TimeAmount) async -> (ips: [IPAddress], failure: String?) {
        let admitted = threads.withLock { count -> Bool in
            guard count < Self.maxThreads else { return false }
            count += 1
            return true
        }
        guard admitted else { return ([], "not resolved: \(Self.maxThreads) resolutions are still under way") }
        let milliseconds = timeout.nanoseconds / 1_000_000
        let answer = Decided<[IPAddress]?>()
        detachThread { [self] in
            let ips = AnnouncementVerifier.resolve(host)
            threads.withLock { $0 -= 1 }
            answer.resolve(ips)
        }
        let timer = Task {
            try? await Task.sleep(for: .milliseconds(milliseconds))
            answer.resolve(nil)
        }
        defer { timer.cancel() }
        guard let ips = await answer.value() else { return ([], "\(host) did not resolve within \(milliseconds) ms") }
        return (ips, nil)
    }
}

/// Failed checks in the log without flooding it: the first at once, then one line per 10 s with how many
/// there were and the latest. Strangers choose what is checked; they do not choose how much the node logs.
struct FailureSummary {
    private var windowStart: Timestamp?
    private var count = 0

    mutating func record(_ address: NodeAddress, _ failure: AnnouncementChecks.Failure, at now: Timestamp) -> String? {
        count += 1
        if let start = windowStart, now.milliseconds - start.milliseconds < 10_000 { return nil }
        defer {
            windowStart = now
            count = 0
        }
        let latest = "\(address): \(failure.reason)"
        return count == 1
            ? "announcement not verified (\(latest))"
            : "\(count) announcements not verified in the last 10 s (latest \(latest)); GET /api/v1/peers?all=1 lists them"
    }
}
