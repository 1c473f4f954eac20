import AshitaCore
import AshitaSystem

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `bans.json` in the data directory: the operator's bans, so a restart keeps them. Written atomically by a
/// `StateFileWriter` after every change; at most `BanList.capacity` entries, each a few dozen bytes.
enum BansFile {
    /// Larger than a full list can be written: a full list of the longest targets is about 150 KB.
    static let maxFileBytes = 512 << 10

    /// The bans in force in `file`. A damaged file is set aside (like `known-nodes.json`) and the node starts
    /// without bans, saying so: a start never fails on it.
    static func load(_ file: String, at now: Timestamp) throws(FileError) -> (bans: BanList, setAside: String?) {
        try StateFile.load(file, limit: maxFileBytes, empty: BanList(), without: "its bans") { text in
            guard let document = try? JSONDecoder().decode(BanDocument.self, from: Data(text.utf8)),
                let bans = BanList(bans: document.bans, at: now)
            else { return .failure(StateFile.DecodeProblem("is not a bans file")) }
            return .success(bans)
        }
    }

    static func encoded(_ bans: BanList, at now: Timestamp) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = (try? encoder.encode(BanDocument(bans: bans.list(at: now)))) ?? Data(#"{"bans":[]}"#.utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
