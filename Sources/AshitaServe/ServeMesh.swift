import AshitaCore
import AshitaTerminal
import ArgumentParser

/// `serve`'s mesh between nodes: whom to join, how many links, and the timings of failure detection.
public struct ServeMesh: ParsableArguments {
    public init() {}

    @Option(
        name: .customLong("join"),
        help: ArgumentHelp("Link to the mesh through this node at start (repeatable).", valueName: "host:port"))
    var joinTargets: [String] = []

    @Option(help: ArgumentHelp("Links to other nodes at most (both directions count once).", valueName: "n"))
    var maxLinks = MembershipConfiguration().maxLinks

    @Option(help: ArgumentHelp("Members remembered at most, this node included.", valueName: "n"))
    var maxMembers = MembershipConfiguration().maxMembers

    @Option(help: ArgumentHelp("Seconds between pings of one linked node.", valueName: "seconds"))
    var probeInterval = Seconds(MembershipConfiguration().probeInterval)

    @Option(help: ArgumentHelp(
        "Seconds a ping's answer may take before other nodes are asked to try.", valueName: "seconds"))
    var probeTimeout = Seconds(MembershipConfiguration().probeTimeout)

    @Option(help: ArgumentHelp(
        "Seconds a silent node stays suspect once several others agree, before it is failed.", valueName: "seconds"))
    var suspicionMin = Seconds(MembershipConfiguration().suspicionMin)

    @Option(help: ArgumentHelp("Seconds a silent node stays suspect with one accuser.", valueName: "seconds"))
    var suspicionMax = Seconds(MembershipConfiguration().suspicionMax)

    @Option(help: ArgumentHelp(
        "Seconds a node whose address refuses connections stays suspect before it is failed.", valueName: "seconds"))
    var refusedSuspicion = Seconds(MembershipConfiguration().refusedSuspicion)

    @Option(help: ArgumentHelp(
        "Seconds a node stays suspect once another's link to it stalls (TCP resending, nothing heard, no neighbour reaching it); down to --refused-suspicion as more agree.",
        valueName: "seconds"))
    var unreachableSuspicion = Seconds(MembershipConfiguration().unreachableSuspicion)

    @Option(help: ArgumentHelp("Seconds between gossip rounds (what was learnt goes out then).", valueName: "seconds"))
    var gossipInterval = Seconds(MembershipConfiguration().gossipInterval)

    @Option(help: ArgumentHelp("Seconds a dial to another node may take, connection and upgrade together.", valueName: "seconds"))
    var dialTimeout = Seconds(MembershipConfiguration().dialTimeout)

    @Option(help: ArgumentHelp("Seconds between added links while the node has fewer than --max-links.", valueName: "seconds"))
    var linkRefresh = Seconds(MembershipConfiguration().linkRefresh)

    @Option(help: ArgumentHelp(
        "Seconds between redials of a failed node (how split halves of a mesh find each other).", valueName: "seconds"))
    var retryInterval = Seconds(MembershipConfiguration().retryInterval)

    @Option(help: ArgumentHelp("Seconds failed and left nodes are remembered.", valueName: "seconds"))
    var rememberFailed = Seconds(MembershipConfiguration().rememberFailed)

    @Option(help: ArgumentHelp(
        "Seconds between comparisons of this node's member table with a neighbour's.", valueName: "seconds"))
    var syncInterval = Seconds(MembershipConfiguration().syncInterval)

    @Option(help: ArgumentHelp("Messages a second one link may send; more are dropped.", valueName: "n"))
    var linkMessageRate = MembershipConfiguration().messageRate

    @Option(help: ArgumentHelp("New connections a second to other nodes, at most (twice that, at least 8, at once).", valueName: "n"))
    var dialRate = MembershipConfiguration().dialRate

    public func validate() throws {
        for target in joinTargets {
            do { _ = try NodeAddress(parsing: target) } catch { throw ValidationError("--join: \(error)") }
        }
        if !(1...64).contains(maxLinks) { throw ValidationError("--max-links must be from 1 to 64, got \(maxLinks)") }
        if !(2...100_000).contains(maxMembers) {
            throw ValidationError("--max-members must be from 2 to 100000, got \(maxMembers)")
        }
        for (name, value) in [
            ("--probe-interval", probeInterval), ("--probe-timeout", probeTimeout), ("--suspicion-min", suspicionMin),
            ("--suspicion-max", suspicionMax), ("--refused-suspicion", refusedSuspicion),
            ("--unreachable-suspicion", unreachableSuspicion), ("--gossip-interval", gossipInterval),
            ("--dial-timeout", dialTimeout), ("--link-refresh", linkRefresh), ("--retry-interval", retryInterval),
            ("--remember-failed", rememberFailed), ("--sync-interval", syncInterval),
        ] where !value.isWithin(.milliseconds(5), .seconds(86_400)) {
            throw ValidationError("\(name) must be from 0.005 to 86400 seconds, got \(value)")
        }
        if !(1...1_000_000).contains(linkMessageRate) {
            throw ValidationError("--link-message-rate must be from 1 to 1000000, got \(linkMessageRate)")
        }
        if !(1...10_000).contains(dialRate) { throw ValidationError("--dial-rate must be from 1 to 10000, got \(dialRate)") }
        if suspicionMin.duration > suspicionMax.duration {
            throw ValidationError("--suspicion-min (\(suspicionMin)) must not exceed --suspicion-max (\(suspicionMax))")
        }
    }

    var join: [NodeAddress] { joinTargets.compactMap { try? NodeAddress(parsing: $0) } }

    var configuration: MembershipConfiguration {
        var configuration = MembershipConfiguration()
        configuration.maxLinks = maxLinks
        configuration.maxMembers = maxMembers
        configuration.probeInterval = probeInterval.duration
        configuration.probeTimeout = probeTimeout.duration
        configuration.suspicionMin = suspicionMin.duration
        configuration.suspicionMax = suspicionMax.duration
        configuration.refusedSuspicion = refusedSuspicion.duration
        configuration.unreachableSuspicion = unreachableSuspicion.duration
        configuration.gossipInterval = gossipInterval.duration
        configuration.dialTimeout = dialTimeout.duration
        configuration.linkRefresh = linkRefresh.duration
        configuration.retryInterval = retryInterval.duration
        configuration.rememberFailed = rememberFailed.duration
        configuration.dialRate = dialRate
        configuration.dialBurst = max(configuration.dialBurst, 2 * dialRate)
        configuration.syncInterval = syncInterval.duration
        configuration.messageRate = linkMessageRate
        configuration.messageBurst = 4 * linkMessageRate
        return configuration
    }
}
