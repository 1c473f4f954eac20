import AshitaClient
import AshitaCore
import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// What every client subcommand takes: the node, JSON output, a connection timeout.
struct NodeOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The node, as host:port, or https://host:port for TLS. (default: $ASHITA_NODE)", valueName: "addr"))
    var address: String?

    @Option(
        help: ArgumentHelp("Trust the CA certificates in this PEM file for https:// nodes (a private CA).", valueName: "file"),
        completion: .file(extensions: ["pem", "crt"]))
    var cacert: String?

    @Flag(help: "Print JSON on stdout (one object, or one per line for streams) instead of text for people.")
    var json = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds to wait for a connection to the node.", valueName: "seconds"))
    var timeout: Double = 5

    func validate() throws {
        _ = try resolvedNode()
        guard timeout > 0, timeout <= 3600 else {
            let shown = timeout.isFinite && timeout == timeout.rounded() ? String(Int(timeout)) : "\(timeout)"
            throw ValidationError("--timeout must be more than 0 and at most 3600 seconds, got \(shown)")
        }
    }

    /// The address argument, or `$ASHITA_NODE`, validated with the protocol's rules.
    func resolvedNode() throws -> NodeEndpoint {
        guard let text = address ?? getenv("ASHITA_NODE").map({ String(cString: $0) }) else {
            throw ValidationError("name the node as host:port, or set ASHITA_NODE")
        }
        do {
            return try NodeEndpoint(parsing: text)
        } catch {
            throw ValidationError("\(error) (from \(address == nil ? "ASHITA_NODE" : "the argument"))")
        }
    }

    /// Validated in `validate()`.
    var endpoint: NodeEndpoint { try! resolvedNode() }
    var node: NodeAddress { endpoint.address }

    var api: NodeAPI { NodeAPI(node: endpoint, timeoutSeconds: timeout, caFile: cacert) }
}
