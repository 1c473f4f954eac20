import Logging
import ServiceLifecycle

/// A node as a service of a `ServiceGroup`: it starts the node when the group runs it (after the group has
/// registered its signal handlers, so a signal from the moment the node says it listens is never lost),
/// serves until the group's graceful shutdown, then closes every client with 1001 and returns.
public struct NodeService: Service {
    private let configuration: NodeConfiguration
    private let logger: Logger
    private let listening: @Sendable (NodeServer) -> Void

    /// `listening`: called once the node listens, before it serves (to say so).
    public init(_ configuration: NodeConfiguration, logger: Logger, listening: @escaping @Sendable (NodeServer) -> Void) {
        self.configuration = configuration
        self.logger = logger
        self.listening = listening
    }

    public func run() async throws {
        let server: NodeServer
        do {
            server = try await NodeServer.start(configuration, logger: logger)
        } catch {
            throw StartFailure(reason: "\(error)")
        }
        listening(server)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                // Ends with CancellationError when the group is cancelled instead: then `run` is cancelled too.
                try await gracefulShutdown()
                logger.info("shutting down")
                await server.shutdown()
            }
            try await server.run()
            group.cancelAll()
        }
    }

    /// The node did not start: the reason says what happened and what to do.
    public struct StartFailure: Error, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }
}
