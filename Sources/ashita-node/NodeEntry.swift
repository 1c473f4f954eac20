import AshitaNode
import AshitaServe
import ArgumentParser

/// The program `ashita serve` becomes: the same command line, parsed by the same `ServeCommand`, in an executable
/// that links none of the client's libraries, so a node maps neither libcurl nor its TLS stacks.
@main
struct NodeEntry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ashita",
        abstract: "The node half of ashita: `ashita serve` runs here. Use `ashita serve`.",
        version: ashitaVersion,
        subcommands: [ServeCommand.self]
    )

    static func main() async {
        await CommandEntry.main(Self.self)
    }
}
