import AshitaCore
import NIOCore
import NIOPosix

/// How to run a node: where it listens, what it calls itself, where it keeps its files.
public struct NodeConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The address announced to others; nil means host:port as listened (with the real port when 0).
    public var advertise: NodeAddress?
    public var dataDirectory: DataDirectory
    public var limits = NodeLimits()
    public var version = ashitaVersion
    /// PEM certificate chain and private key: serve HTTPS and WSS instead of HTTP and WS.
    public var tls: TLSFiles?
    /// Where the node reads the time.
    public var clock = NodeClock.system
    /// The event loops the node runs on: its sockets, its connections' tasks and its hub. The process's shared
    /// loops by default; the tests give each node loops of its own, so one test's load cannot stall another's node.
    public var eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    /// The loop the mesh's state runs on; one of `eventLoopGroup`'s when nil. A node with many clients may give it
    /// a thread of its own.
    public var meshEventLoop: (any EventLoop)?
    /// The mesh between nodes: its bounds and timings, and the nodes to join at start.
    public var membership = MembershipConfiguration()
    public var join: [NodeAddress] = []

    public init(host: String, port: Int, advertise: NodeAddress? = nil, dataDirectory: DataDirectory) {
        self.host = host
        self.port = port
        self.advertise = advertise
        self.dataDirectory = dataDirectory
    }
}

public let ashitaVersion = "0.2.0"
