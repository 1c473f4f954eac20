#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Failure detection and the messages links carry: pings on links, indirect pings through neighbours,
/// suspicion that ends in failure unless refuted.
extension Membership {
    /// Runs the timers and sends the gossip learnt since the last tick, batched: call every `gossipInterval`.
    public mutating func tick(at now: Timestamp) -> [MembershipEffect] {
        guard !hasLeft else { return [] }
        var effects: [MembershipEffect] = []
        // A tick far later than asked for means this node itself was stalled: its timeouts stretch (Lifeguard).
        let expected = requestedWake ?? lastTick.adding(configuration.probeInterval)
        if now.milliseconds - expected.milliseconds > configuration.probeInterval.wholeMilliseconds {
            localHealth = min(configuration.maxLocalHealth, localHealth + 1)
        }
        lastTick = now
        requestedWake = nil
        expireSuspicions(at: now, effects: &effects)
        runProbe(at: now, effects: &effects)
        effects += giveUpRelays { $0.deadline <= now }
        maintainLinks(at: now, effects: &effects)
        compareTables(at: now, effects: &effects)
        flush(&effects)
        return effects
    }

    var scaledProbeTimeout: Int64 { configuration.probeTimeout.wholeMilliseconds * Int64(1 + localHealth) }

    /// How long a suspicion lasts: from `suspicionMax` with one accuser down to `suspicionMin` with
    /// `expectedConfirmations` more (log-scaled, as Lifeguard does); short when a dial was refused. A member
    /// unreachable from one claimer stays suspect `unreachableSuspicion`, down to `refusedSuspicion` once
    /// `expectedConfirmations` more found it so: a cut-off member's neighbours all find it at about one time.
    func suspicionTimeout(_ suspicion: Suspicion) -> Int64 {
        let (low, high): (Duration, Duration)
        switch suspicion.evidence {
        case .refused: return configuration.refusedSuspicion.wholeMilliseconds
        case .unreachable: (low, high) = (min(configuration.refusedSuspicion, configuration.unreachableSuspicion), configuration.unreachableSuspicion)
        case .silent: (low, high) = (configuration.suspicionMin, configuration.suspicionMax)
        }
        let confirmations = Double(max(0, suspicion.claimers.count - 1))
        let expected = Double(max(1, configuration.expectedConfirmations))
        let fraction = min(1, log(confirmations + 1) / log(expected + 1))
        let (shortest, longest) = (Double(low.wholeMilliseconds), Double(high.wholeMilliseconds))
        return Int64(max(shortest, longest - (longest - shortest) * fraction))
    }

    mutating func expireSuspicions(at now: Timestamp, effects: inout [MembershipEffect]) {
        for member in suspicions.keys.sorted() {
            let suspicion = suspicions[member]!
            guard now.milliseconds - suspicion.since.milliseconds >= suspicionTimeout(suspicion) else { continue }
            suspicions[member] = nil
            guard let record = table[member]?.record, record.incarnation == suspicion.incarnation,
                record.state == .suspect || record.state == .alive
            else { continue }
            var failed = record
            failed.state = .failed
            failed.evidence = nil
            failed.signer = id
            failed = signed(failed)
            replace(failed, at: now, effects: &effects)
            forward(failed, hops: 0, except: nil)
        }
    }

    mutating func runProbe(at now: Timestamp, effects: inout [MembershipEffect]) {
        if var current = probe {
            let target = current.target
            let heard = (links[target]?.lastHeard ?? .init(milliseconds: .min)) > current.started
            if heard || links[target] == nil {
                probe = nil
                if heard { localHealth = max(0, localHealth - 1) }
            } else if now >= current.deadline || current.answeredByAllHelpers {
                if !current.indirect {
                    // No answer on the link: ask neighbours that reach it another way.
                    askHelpers(&current, at: now, effects: &effects)
                    probe = current
                } else {
                    probe = nil
                    // Helpers that did not even answer `nack` point at this node's own slowness.
                    if current.nacks < current.helpers { localHealth = min(configuration.maxLocalHealth, localHealth + 1) }
                    if let record = table[target]?.record {
                        claimSuspect(record, evidence: current.unreachable ? .unreachable : .silent, at: now, effects: &effects)
                    }
                }
            }
        }
        guard probe == nil, now >= nextProbe else { return }
        nextProbe = now.adding(milliseconds: configuration.probeInterval.wholeMilliseconds * Int64(1 + localHealth))
        probeRound.removeAll { links[$0] == nil }
        if probeRound.isEmpty { probeRound = links.keys.sorted().shuffled(using: &random) }
        guard !probeRound.isEmpty else { return }
        let target = probeRound.removeFirst()
        let seq = takeSeq()
        probe = Probe(target: target, seq: seq, started: now, deadline: now.adding(milliseconds: scaledProbeTimeout))
        effects.append(.send(.ping(seq: seq), to: [target]))
    }

    /// The indirect phase of a probe: up to `indirectChecks` other neighbours ping the target over their links.
    mutating func askHelpers(_ current: inout Probe, at now: Timestamp, effects: inout [MembershipEffect]) {
        let helpers = Array(
            links.keys.sorted().filter { $0 != current.target }.shuffled(using: &random).prefix(configuration.indirectChecks))
        current.indirect = true
        current.helpers = helpers.count
        current.deadline = now.adding(milliseconds: scaledProbeTimeout)
        if !helpers.isEmpty { effects.append(.send(.pingRequest(seq: current.seq, target: current.target), to: helpers)) }
    }

    mutating func takeSeq() -> UInt64 {
        defer { nextSeq = nextSeq % LinkMessage.maxNumber + 1 }
        return nextSeq
    }

    /// Failed and left members are forgotten after `rememberFailed`.
    mutating func forgetGone(at now: Timestamp) {
        let horizon = configuration.rememberFailed.wholeMilliseconds
        for (member, entry) in table where entry.record.state == .failed || entry.record.state == .left {
            if now.milliseconds - entry.changed.milliseconds > horizon, member != id { table[member] = nil }
        }
    }

    /// A message from a linked member. Whatever it holds, the node answers and moves on: a malformed, forged or
    /// excessive message is dropped, counted and answered with `error`.
    public mutating func receive(_ bytes: [UInt8], from peer: String, at now: Timestamp) -> [MembershipEffect] {
        guard admit(from: peer, at: now) else { return rateWarning(peer) }
        switch LinkMessage.decode(bytes) {
        case .failure(let error):
            counters.malformed += 1
            return [.send(.error(code: "bad-message", message: error.description), to: [peer])]
        case .success(let message):
            var effects: [MembershipEffect] = []
            handle(message, from: peer, at: now, effects: &effects)
            return effects
        }
    }

    /// A message already decoded (the simulator's network carries them so), with the same bounds as bytes.
    public mutating func receive(_ message: LinkMessage, from peer: String, at now: Timestamp) -> [MembershipEffect] {
        guard admit(from: peer, at: now) else {
            return rateWarning(peer)
        }
        var effects: [MembershipEffect] = []
        handle(message, from: peer, at: now, effects: &effects)
        return effects
    }

    /// Takes a token from the link's bucket and notes that the peer was heard.
    mutating func admit(from peer: String, at now: Timestamp) -> Bool {
        guard !hasLeft, var state = links[peer] else { return false }
        guard state.bucket.take(at: now) else {
            counters.rateLimited += 1
            links[peer] = state
            return false
        }
        state.warnedRate = false
        state.lastHeard = now
        links[peer] = state
        table[peer]?.lastHeard = now
        return true
    }

    /// One `error` when a link first runs over its rate, then silence until it slows down.
    mutating func rateWarning(_ peer: String) -> [MembershipEffect] {
        guard var state = links[peer], !state.warnedRate, !hasLeft else { return [] }
        state.warnedRate = true
        links[peer] = state
        return [.send(.error(code: "rate-limited", message: "more than \(configuration.messageRate) messages a second; dropped"), to: [peer])]
    }

    mutating func handle(_ message: LinkMessage, from peer: String, at now: Timestamp, effects: inout [MembershipEffect]) {
        switch message {
        case .ping(let seq):
            effects.append(.send(.ack(seq: seq), to: [peer]))
        case .ack(let seq):
            if probe?.seq == seq {
                probe = nil
                localHealth = max(0, localHealth - 1)
            } else if let relay = relays.removeValue(forKey: seq), links[relay.asker] != nil {
                effects.append(.send(.ack(seq: relay.askerSeq), to: [relay.asker]))
            }
        case .pingRequest(let seq, let target):
            // Not linked to it, too busy, or its own transport to it stalled or resending: `nack` at once (in the last
            // cases a ping could not pass either).
            guard links[target] != nil, target != peer, relays.count < configuration.maxRelays,
                probe.map({ !($0.target == target && $0.unreachable) }) ?? true, !isDoubtful(target, at: now)
            else {
                effects.append(.send(.nack(seq: seq), to: [peer]))
                return
            }
            let relayed = takeSeq()
            // The relay gives up (nack) a fifth before the asker does, so that an unanswered target reads as the
            // target's silence, not as this node's slowness.
            relays[relayed] = Relay(
                asker: peer, askerSeq: seq, target: target, deadline: now.adding(milliseconds: configuration.probeTimeout.wholeMilliseconds * 4 / 5))
            effects.append(.send(.ping(seq: relayed), to: [target]))
        case .nack(let seq):
            if probe?.seq == seq, probe?.indirect == true { probe?.nacks += 1 }
        case .gossip(let hops, let records):
            var forged = 0
            for record in records where learn(record, from: peer, hops: hops, at: now, effects: &effects) == .forged { forged += 1 }
            if forged > 0 {
                effects.append(.send(.error(code: "bad-signature", message: "\(forged) of \(records.count) records failed their signature; dropped"), to: [peer]))
            }
        case .summary(let count, let digest, _):
            let own = summary
            guard own.count != count || own.digest != digest else { return }
            // Views differ: this node lists what it holds; the neighbour sends what it lacks, and lists its own.
            offerTable(to: peer, at: now, effects: &effects)
        case .have(let members, let reply):
            answer(members, reply: reply, from: peer, at: now, effects: &effects)
        case .error:
            counters.errorsReceived += 1
        }
    }
}
