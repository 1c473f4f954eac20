import AshitaNode
import ArgumentParser

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
        } catch {
            root.exit(withError: error)
        }
    }
}
