import AshitaNode
import AshitaServe
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
        subcommands: [ServeCommand.self, Connect.self, Peers.self, Auth.self, Watch.self]
    )

    static func main() async {
        await CommandEntry.main(Self.self) { command in
            if command is ServeCommand { NodeExecutable.replaceThisProcess() }
        }
    }
}
