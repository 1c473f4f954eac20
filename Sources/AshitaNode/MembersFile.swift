import AshitaCore
import AshitaSystem

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `members.json` in the data directory: the addresses of the mesh's live members when the node last saved, so a
/// node restarted without `--join` links to the mesh again. At most `maxEntries` addresses; a damaged file is
/// set aside and the node starts without it.
enum MembersFile {
    static let maxEntries = 1024
    /// Larger than a full list can be written (1,024 addresses of at most 255 bytes are about 270 KB).
    static let maxFileBytes = 512 << 10

    struct Document: Codable {
        var members: [String]
    }

    static func load(_ file: String) throws(FileError) -> (members: [NodeAddress], setAside: String?) {
        try StateFile.load(file, limit: maxFileBytes, empty: [], without: "the mesh's members") { text in
            guard let document = try? JSONDecoder().decode(Document.self, from: Data(text.utf8)),
                document.members.count <= maxEntries
            else { return .failure(StateFile.DecodeProblem("is not a members file")) }
            return .success(document.members.compactMap { try? NodeAddress(parsing: $0) })
        }
    }

    static func encoded(_ members: [NodeAddress]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let document = Document(members: members.prefix(maxEntries).map(\.description))
        let data = (try? encoder.encode(document)) ?? Data(#"{"members":[]}"#.utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
