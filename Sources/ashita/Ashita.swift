import AshitaNode
import ArgumentParser

@main
struct Ashita: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ashita",
        abstract: "A peer-to-peer mesh node and command-line peer client.",
        discussion: """
            Each node serves a browser page, a JSON API and WebSockets on one port. Clients connect to nodes, \
            nodes tell their clients about each other, and clients follow those announcements: the mesh grows \
            by itself.
            """,
        version: ashitaVersion,
        subcommands: [Serve.self, Connect.self, Peers.self, Auth.self, Watch.self]
    )

    /// The argument parser's own entry point, after one process-wide setting that must come before threads
    /// allocate: fewer malloc arenas, so a node's RSS comes back down after a burst (see `ashita-bench --only soak`).
    static func main() async {
        MemoryReclaimer.limitArenas(to: 2)
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
