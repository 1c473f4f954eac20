/// When the membership next has something to do, so that a node's timer sleeps until then instead of ticking
/// every `gossipInterval`: an idle mesh wakes a few times a second (probes, summaries, retries), not fifty.
extension Membership {
    /// The earliest time `tick` has work: gossip to flush, a probe, relay, dial or suspicion to time out, links
    /// to add, a retry, a summary. Ticking earlier is harmless; ticking later delays that work. Remembered, so
    /// that a tick that comes far later than asked for counts against this node's local health.
    public mutating func nextWake(at now: Timestamp) -> Timestamp {
        guard !hasLeft else { return now.adding(milliseconds: 3_600_000) }
        // Flushed within a gossip interval of being learnt, as a fixed tick would.
        if !outbox.isEmpty { return remember(now.adding(configuration.gossipInterval)) }
        var next = nextRetry
        func soonest(_ time: Timestamp?) {
            if let time, time < next { next = time }
        }
        // Each time only where `tick` would act on it and move it on: a deadline left in the past would wake
        // the node again at once, forever.
        if !links.isEmpty {
            if probe == nil { soonest(nextProbe) }
            soonest(nextSync)
        }
        soonest(probe?.answeredByAllHelpers == true ? now : probe?.deadline)
        for relay in relays.values { soonest(relay.deadline) }
        for deadline in dialing.values { soonest(deadline) }
        for (_, suspicion) in suspicions { soonest(suspicion.since.adding(milliseconds: suspicionTimeout(suspicion))) }
        if links.count < configuration.maxLinks, links.count + dialing.count >= configuration.minLinks { soonest(nextRefresh) }
        // Short of links with members left to link to: the next dial as soon as the dial rate allows.
        if links.count + dialing.count < configuration.minLinks,
            table.contains(where: { $0.key != id && links[$0.key] == nil && $0.value.record.state == .alive && dialing[$0.value.record.address] == nil })
        {
            soonest(max(now.adding(configuration.gossipInterval), dialBucket.nextToken(at: now)))
        }
        return remember(max(next, now))
    }

    private mutating func remember(_ wake: Timestamp) -> Timestamp {
        requestedWake = wake
        return wake
    }
}
