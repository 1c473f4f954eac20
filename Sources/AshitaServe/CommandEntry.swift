import AshitaNode
import ArgumentParser
import AshitaTerminal

#if canImport(Glibc)
import Glibc
#endif

/// How `ashita` and `ashita-node` start: the argument parser's own entry point, after one process-wide setting
/// that must come before threads allocate (fewer malloc arenas, so a node's RSS comes back down after a burst;
/// see `ashita-bench --only soak`), with a look at the parsed command before it runs.
public enum CommandEntry {
    public static func main(
        _ root: any AsyncParsableCommand.Type, beforeRunning prepare: @Sendable (any ParsableCommand) -> Void = { _ in }
    ) async {
        MemoryReclaimer.limitArenas(to: 2)
        do {
            var command = try root.parseAsRoot()
            prepare(command)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CommandFailure {
            printError("ashita: \(failure.message)")
            exit(failure.code)
        } catch {
            // Help, --version and completions print as the parser does; a usage error is one line, like every
            // other error; an error nobody turned into a message is one line too, exit 1.
            switch root.exitCode(for: error) {
            case .validationFailure:
                printError("ashita: \(usageMessage(root, error)); see '\(helpCommand(root))'")
                exit(Exit.usage)
            case .success:
                root.exit(withError: error)
            default:
                if error is ExitCode || error is CleanExit { root.exit(withError: error) }
                printError("ashita: \(error)")
                exit(Exit.failure)
            }
        }
    }

    /// The parser's message, or, for a word that is no subcommand, which ones there are.
    private static func usageMessage(_ root: any AsyncParsableCommand.Type, _ error: any Error) -> String {
        let names = commandNames(root)
        if let word = CommandLine.arguments.dropFirst().first, !word.hasPrefix("-"), !names.contains(word), !names.isEmpty {
            return "'\(word)' is not a command; the commands are \(names.joined(separator: ", "))"
        }
        let message = root.message(for: error).split(separator: "\n").first.map(String.init) ?? "bad arguments"
        return message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
    }

    private static func commandNames(_ root: any AsyncParsableCommand.Type) -> [String] {
        root.configuration.subcommands.map { $0.configuration.commandName ?? String(describing: $0).lowercased() }
    }

    /// `ashita SUBCOMMAND --help` for the subcommand on the command line, else `ashita --help`.
    private static func helpCommand(_ root: any AsyncParsableCommand.Type) -> String {
        let names = commandNames(root)
        let name = root.configuration.commandName ?? "ashita"
        if let word = CommandLine.arguments.dropFirst().first, names.contains(word) { return "\(name) \(word) --help" }
        return "\(name) --help"
    }
}
