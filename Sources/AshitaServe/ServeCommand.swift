import AshitaCore
import AshitaNode
import AshitaTerminal
import ArgumentParser
import Logging
import ServiceLifecycle

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// `ashita serve`: its flags and the node they run. Both executables parse it: `ashita` (for help, completions
/// and the man page), which then hands the command line to `ashita-node` so the node's process maps none of
/// the client's libraries, and `ashita-node` itself.
public struct ServeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run a node: the browser page, the JSON API and WebSockets on one port.",
        discussion: """
            Prints one line when the node listens, then logs to stderr. SIGINT or SIGTERM closes every \
            client with close code 1001 and exits 0 (what is not done after 10 s is cancelled). On first start \
            the node writes its operator token to DATA_DIR/operator-token (mode 0600) and its Ed25519 key to \
            DATA_DIR/node-key; its id is derived from that key. Announced homes are relayed only once an ashita \
            node answers there. With --join the node links to other nodes (at /api/v1/link), learns every member \
            of the mesh and lists them at /api/v1/members.
            """)

    @Argument(help: "The TCP port to listen on (1-65535; 0 picks a free one).")
    var port: Int

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: ArgumentHelp(
        "The address announced to clients and other nodes, if it differs from the listen address.",
        valueName: "host:port"))
    var advertise: String?

    @Option(help: ArgumentHelp(
        "Where the node keeps its operator token and id. (default: $XDG_DATA_HOME/ashita/PORT, or ~/.local/share/ashita/PORT)",
        valueName: "dir"), completion: .directory)
    var dataDir: String?

    @Option(help: ArgumentHelp("How much to log on stderr: trace, debug, info, notice, warning, error, critical."))
    var logLevel: Logger.Level = .info

    @Option(
        help: ArgumentHelp("Serve HTTPS and WSS with this PEM certificate chain (needs --tls-key).", valueName: "file"),
        completion: .file())
    var tlsCert: String?

    @Option(help: ArgumentHelp("The PEM private key of --tls-cert.", valueName: "file"), completion: .file())
    var tlsKey: String?

    @OptionGroup(title: "Mesh")
    var mesh: ServeMesh

    @OptionGroup(title: "Limits")
    var limits: ServeLimits

    public init() {}

    public func validate() throws {
        guard (0...65535).contains(port) else {
            throw ValidationError("port must be from 1 to 65535 (or 0 for any free port), got \(port)")
        }
        if let advertise {
            do { _ = try NodeAddress(parsing: advertise) } catch { throw ValidationError("--advertise: \(error)") }
        }
        if host.isEmpty { throw ValidationError("--host must not be empty") }
        if (tlsCert == nil) != (tlsKey == nil) {
            throw ValidationError("--tls-cert and --tls-key go together: give both, or neither")
        }
    }

    /// The one command that makes this shell the node's operator: `ashita auth` finds the token of a local node
    /// in the default data directory by itself; any other needs `--data-dir`.
    static func authCommand(_ server: NodeServer, listeningOn host: String) -> String {
        let local = ["0.0.0.0", "::", "localhost"].contains(host) || IPAddress(host)?.scope == .loopback
        let shownHost = local ? "127.0.0.1" : host.contains(":") ? "[\(host)]" : host
        let address = "\(server.usesTLS ? "https://" : "")\(shownHost):\(server.localPort)"
        if local && server.dataDirectory.path == DataDirectory.defaultPath(port: server.localPort) {
            return "ashita auth \(address)"
        }
        return "ashita auth \(address) --data-dir \(server.dataDirectory.path)"
    }

    public func run() async throws {
        let level = logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "ashita.node")
        var configuration = NodeConfiguration(
            host: host, port: port, advertise: try advertise.map { try NodeAddress(parsing: $0) },
            dataDirectory: DataDirectory(path: dataDir ?? DataDirectory.defaultPath(port: port)))
        configuration.version = ashitaVersion
        configuration.limits = limits.limits
        configuration.membership = mesh.configuration
        configuration.join = mesh.join
        if let tlsCert, let tlsKey { configuration.tls = TLSFiles(certificate: tlsCert, privateKey: tlsKey) }

        // The group registers SIGINT and SIGTERM before it runs the node, so a signal from the moment the node
        // says it listens shuts it down gracefully (clients closed with 1001, exit 0).
        let host = self.host
        let node = NodeService(configuration, logger: logger) { server in
            printLine("ashita node \(server.address) listening on \(server.usesTLS ? "https" : "http")://\(host.contains(":") ? "[\(host)]" : host):\(server.localPort)/")
            logger.info("data directory", metadata: ["path": "\(server.dataDirectory.path)", "id": "\(server.id)"])
            if server.tokenCreated {
                printError("ashita: first start: the operator token is in \(server.dataDirectory.tokenPath) (mode 0600); "
                    + "authenticate with: \(Self.authCommand(server, listeningOn: host))")
            }
        }
        // Shut down last-first: the node, then the reclaimer (which may end at once where it has nothing to do).
        var lifecycle = ServiceGroupConfiguration(
            services: [
                .init(service: MemoryReclaimer(logger: logger), successTerminationBehavior: .ignore),
                .init(service: node),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // A shutdown that hangs is cut short: cancelled after 10 s, the process ends after 5 more.
        lifecycle.maximumGracefulShutdownDuration = .seconds(10)
        lifecycle.maximumCancellationDuration = .seconds(5)
        do {
            try await ServiceGroup(configuration: lifecycle).run()
        } catch let failure as NodeService.StartFailure {
            throw fail(failure.reason)
        } catch {
            throw fail("node stopped: \(error)")
        }
    }
}
