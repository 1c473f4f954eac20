/// The rules for checking announced homes, which strangers choose: what to contact, when, and what to refuse
/// without a request. Pure: the edge resolves names and contacts nodes when told to (`Work`), reports back,
/// and passes the clock in.
///
/// - One check per address, however many clients announce it; results cached by address and by what was
///   actually contacted (IP and port), so spellings and names of one place cost one request.
/// - Destinations the policy refuses (link-local, metadata, …) are never contacted.
/// - A global contact rate, a rate per destination IP, one check in flight per destination: a slow or
///   silent destination holds its own checks only, never the queue.
/// - Queues per announcer (its remote IP), served in turn, each bounded: one announcer cannot starve others.
public struct AnnouncementChecks: Sendable {
    public struct Limits: Sendable, Equatable {
        /// Contacts in flight at once.
        public var maxInFlight = 8
        /// Name resolutions in flight at once.
        public var maxResolving = 4
        /// Checks waiting, in all.
        public var maxQueued = 1024
        /// Checks waiting for one announcer.
        public var maxQueuedPerAnnouncer = 64
        /// Contacts a second, all destinations together, on average and in a burst.
        public var contactRate = 20
        public var contactBurst = 40
        /// Contacts a second to one destination IP (any port), on average and in a burst.
        public var hostRate = 2
        public var hostBurst = 8
        /// How long results are kept.
        public var successSeconds = 300
        public var failureSeconds = 10
        /// A check not started after this long fails: the node is too busy.
        public var maxWaitSeconds = 30
        /// Results kept, at most.
        public var maxCacheEntries = 4096

        public init() {}
    }

    public struct Failure: Error, Equatable, Hashable, Sendable, CustomStringConvertible {
        public var reason: String
        public init(_ reason: String) { self.reason = reason }
        public var description: String { reason }
    }

    public typealias Outcome = Result<PeerFacts, Failure>

    /// What is really contacted: an IP address and a port.
    public struct Destination: Hashable, Sendable, CustomStringConvertible {
        public var ip: IPAddress
        public var port: Int

        public init(ip: IPAddress, port: Int) {
            self.ip = ip
            self.port = port
        }

        public var description: String { NodeAddress(ip: ip, port: port).description }
    }

    public enum Work: Equatable, Sendable {
        /// Resolve the name of this address, then call `resolved`.
        case resolve(NodeAddress)
        /// Ask the node at `destination` to prove its id (the address gives the Host header), then call
        /// `contacted`.
        case contact(NodeAddress, Destination)
    }

    public struct Report: Equatable, Sendable {
        public var address: NodeAddress
        public var outcome: Outcome
    }

    /// What to do now, what is decided, and when to look again if something waits on a rate.
    public struct Plan: Equatable, Sendable {
        public var work: [Work] = []
        public var reports: [Report] = []
        public var wakeUp: Timestamp?
    }

    private enum State: Equatable {
        case queued(Destination?)
        case resolving
        case contacting(Destination)
    }

    private struct Job {
        var announcer: String
        var submitted: Timestamp
        var state: State
        /// Further addresses the name resolved to, tried in turn when contacting one fails (`localhost` may
        /// be ::1 first while the node listens on 127.0.0.1).
        var alternatives: [IPAddress] = []
    }

    public let limits: Limits
    public let policy: AnnouncementPolicy
    private var jobs: [NodeAddress: Job] = [:]
    private var queues: [String: [NodeAddress]] = [:]
    /// Announcers with waiting jobs, in turn: one that was just served goes to the back.
    private var announcers: [String] = []
    private var contacting: [Destination: NodeAddress] = [:]
    private var resolving = 0
    private var byAddress: [NodeAddress: (outcome: Outcome, expires: Timestamp)] = [:]
    private var byDestination: [Destination: (outcome: Outcome, expires: Timestamp)] = [:]
    private var contacts: TokenBucket
    private var hosts: [IPAddress: TokenBucket] = [:]

    public init(limits: Limits, policy: AnnouncementPolicy, at now: Timestamp) {
        self.limits = limits
        self.policy = policy
        self.contacts = TokenBucket(rate: limits.contactRate, burst: limits.contactBurst, at: now)
    }

    public var waiting: Int { jobs.count }

    /// A client announced `address`. Decided at once when known, refused, or the queues are full; otherwise
    /// queued, and decided by a later `step`, `resolved` or `contacted`.
    public mutating func submit(_ address: NodeAddress, announcer: String, at now: Timestamp) -> [Report] {
        guard jobs[address] == nil else { return [] }
        if let cached = byAddress[address], cached.expires > now { return [Report(address: address, outcome: cached.outcome)] }
        var destination: Destination?
        if let ip = address.ip {
            if let refusal = policy.refusal(ip) { return [decide(address, .failure(Failure(refusal)), now)] }
            let target = Destination(ip: ip, port: address.port)
            if let cached = byDestination[target], cached.expires > now {
                return [Report(address: address, outcome: cached.outcome)]
            }
            destination = target
        }
        guard jobs.count < limits.maxQueued else {
            return [Report(address: address, outcome: .failure(Failure("not checked: \(limits.maxQueued) checks are waiting")))]
        }
        guard queues[announcer, default: []].count < limits.maxQueuedPerAnnouncer else {
            let limit = limits.maxQueuedPerAnnouncer
            return [Report(address: address, outcome: .failure(Failure("not checked: \(limit) checks are waiting for \(announcer)")))]
        }
        jobs[address] = Job(announcer: announcer, submitted: now, state: .queued(destination))
        if queues[announcer] == nil { announcers.append(announcer) }
        queues[announcer, default: []].append(address)
        return []
    }

    /// Starts what may start now, in turn per announcer, and decides what waited too long.
    public mutating func step(at now: Timestamp) -> Plan {
        var plan = Plan()
        expireWaiting(now, into: &plan)
        while let announcer = firstServed(now, into: &plan) {
            // Served: to the back of the line (if it still waits for anything).
            if let position = announcers.firstIndex(of: announcer) {
                announcers.remove(at: position)
                announcers.append(announcer)
            }
        }
        return plan
    }

    private mutating func firstServed(_ now: Timestamp, into plan: inout Plan) -> String? {
        for announcer in announcers where serve(announcer, now, into: &plan) { return announcer }
        return nil
    }

    /// The name of `address` resolved to `ips` (empty: it did not resolve, or, with `failure`, not in time).
    public mutating func resolved(
        _ address: NodeAddress, to ips: [IPAddress], failure: String? = nil, at now: Timestamp
    ) -> [Report] {
        guard jobs[address]?.state == .resolving else { return [] }
        resolving -= 1
        guard let first = ips.first else {
            return [finish(address, .failure(Failure(failure ?? "\(address.host) does not resolve")), now)]
        }
        // The addresses the policy allows, at most three, in the resolver's order; connecting to those
        // addresses (not the name again) keeps a name from answering differently the second time.
        let allowed = ips.filter { policy.refusal($0) == nil }.prefix(3)
        guard let ip = allowed.first else {
            return [finish(address, .failure(Failure(policy.refusal(first)!)), now)]
        }
        jobs[address]!.alternatives = Array(allowed.dropFirst())
        let destination = Destination(ip: ip, port: address.port)
        if let cached = byDestination[destination], cached.expires > now {
            return [finish(address, cached.outcome, now)]
        }
        jobs[address]!.state = .queued(destination)
        return []
    }

    /// The contact for `address` at `destination` ended with `outcome`.
    public mutating func contacted(
        _ address: NodeAddress, at destination: Destination, _ outcome: Outcome, now: Timestamp
    ) -> [Report] {
        guard var job = jobs[address], job.state == .contacting(destination) else { return [] }
        contacting[destination] = nil
        remember(&byDestination, destination, outcome, now)
        if case .failure = outcome, !job.alternatives.isEmpty {
            // The next address of the name, first in its announcer's line: it was already waited for.
            job.state = .queued(Destination(ip: job.alternatives.removeFirst(), port: address.port))
            jobs[address] = job
            if queues[job.announcer] == nil { announcers.append(job.announcer) }
            queues[job.announcer, default: []].insert(address, at: 0)
            return []
        }
        return [finish(address, outcome, now)]
    }

    // MARK: Inside

    /// Starts or decides the first job of `announcer` that can go now; false when none can.
    private mutating func serve(_ announcer: String, _ now: Timestamp, into plan: inout Plan) -> Bool {
        for address in queues[announcer] ?? [] {
            guard case .queued(let destination) = jobs[address]!.state else { continue }
            guard let destination else {
                guard resolving < limits.maxResolving else { continue }
                // A name costs a contact from the global rate: resolving it queries name servers strangers chose.
                let ready = contacts.nextToken(at: now)
                guard ready <= now else {
                    plan.wakeUp = min(plan.wakeUp ?? ready, ready)
                    continue
                }
                _ = contacts.take(at: now)
                resolving += 1
                jobs[address]!.state = .resolving
                plan.work.append(.resolve(address))
                return true
            }
            if let cached = byDestination[destination], cached.expires > now {
                plan.reports.append(finish(address, cached.outcome, now))
                return true
            }
            // One contact per destination at a time; the others wait for its result.
            guard contacting[destination] == nil, contacting.count < limits.maxInFlight else { continue }
            var host = hosts[destination.ip] ?? TokenBucket(rate: limits.hostRate, burst: limits.hostBurst, at: now)
            let ready = [contacts.nextToken(at: now), host.nextToken(at: now)].max()!
            guard ready <= now else {
                plan.wakeUp = min(plan.wakeUp ?? ready, ready)
                continue
            }
            _ = contacts.take(at: now)
            _ = host.take(at: now)
            hosts[destination.ip] = host
            forgetFullBuckets(now)
            contacting[destination] = address
            jobs[address]!.state = .contacting(destination)
            remove(address, from: announcer)
            plan.work.append(.contact(address, destination))
            return true
        }
        return false
    }

    private mutating func expireWaiting(_ now: Timestamp, into plan: inout Plan) {
        let limit = Int64(limits.maxWaitSeconds) * 1000
        for (address, job) in jobs where job.state != .resolving {
            guard case .queued = job.state else { continue }
            let deadline = job.submitted.adding(milliseconds: limit)
            if deadline <= now {
                let failure = Failure("not checked: the node had too many checks waiting for \(limits.maxWaitSeconds) s")
                plan.reports.append(finish(address, .failure(failure), now))
            } else {
                plan.wakeUp = min(plan.wakeUp ?? deadline, deadline)
            }
        }
    }

    /// Ends a job: its result is cached for its address and reported.
    private mutating func finish(_ address: NodeAddress, _ outcome: Outcome, _ now: Timestamp) -> Report {
        if let job = jobs.removeValue(forKey: address) { remove(address, from: job.announcer) }
        return decide(address, outcome, now)
    }

    private mutating func decide(_ address: NodeAddress, _ outcome: Outcome, _ now: Timestamp) -> Report {
        remember(&byAddress, address, outcome, now)
        return Report(address: address, outcome: outcome)
    }

    private mutating func remove(_ address: NodeAddress, from announcer: String) {
        guard var queue = queues[announcer], let index = queue.firstIndex(of: address) else { return }
        queue.remove(at: index)
        if !queue.isEmpty {
            queues[announcer] = queue
            return
        }
        queues[announcer] = nil
        announcers.removeAll { $0 == announcer }
    }

    private func ttl(_ outcome: Outcome) -> Int64 {
        Int64(outcome.isSuccess ? limits.successSeconds : limits.failureSeconds) * 1000
    }

    private func remember<Key: Hashable>(
        _ cache: inout [Key: (outcome: Outcome, expires: Timestamp)], _ key: Key, _ outcome: Outcome, _ now: Timestamp
    ) {
        cache[key] = (outcome, now.adding(milliseconds: ttl(outcome)))
        guard cache.count > limits.maxCacheEntries else { return }
        cache = cache.filter { $0.value.expires > now }
        // Still full of live entries: the ones closest to expiring go.
        while cache.count > limits.maxCacheEntries, let soonest = cache.min(by: { $0.value.expires < $1.value.expires }) {
            cache[soonest.key] = nil
        }
    }

    /// Buckets that are full again hold nothing worth keeping.
    private mutating func forgetFullBuckets(_ now: Timestamp) {
        guard hosts.count > limits.maxCacheEntries else { return }
        hosts = hosts.filter { !$0.value.isFull(at: now) }
    }
}

extension Result {
    var isSuccess: Bool {
        if case .success = self { true } else { false }
    }
}
