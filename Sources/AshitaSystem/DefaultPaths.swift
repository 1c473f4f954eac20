#if canImport(Glibc)
import Glibc
#endif

/// Where ashita keeps its files when told nothing else: shared by the node (which writes there) and the client
/// (which finds a local node's token there).
public enum DefaultPaths {
    /// `$XDG_DATA_HOME/ashita/PORT`, or `~/.local/share/ashita/PORT`: a node's data directory.
    public static func nodeData(port: Int) -> String {
        if let xdg = getenv("XDG_DATA_HOME").map({ String(cString: $0) }), xdg.hasPrefix("/") {
            return "\(xdg)/ashita/\(port)"
        }
        let home = getenv("HOME").map { String(cString: $0) } ?? "."
        return "\(home)/.local/share/ashita/\(port)"
    }
}
