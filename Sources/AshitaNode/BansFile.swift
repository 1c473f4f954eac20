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
        let problem: String
        do throws(FileError) {
            guard let text = try SecureFiles.readText(file, limit: maxFileBytes) else { return (BanList(), nil) }
            if let document = try? JSONDecoder().decode(BanDocument.self, from: Data(text.utf8)),
                let bans = BanList(bans: document.bans, at: now)
            {
                return (bans, nil)
            }
            problem = "is not a bans file"
        } catch where error.isDamage {
            problem = error.problem
        }
        let aside = "\(file).damaged"
        try SecureFiles.rename(file, to: aside)
        return (BanList(), "\(file) \(problem): moved to \(aside); the node starts without its bans")
    }

    static func encoded(_ bans: BanList, at now: Timestamp) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        let data = (try? encoder.encode(BanDocument(bans: bans.list(at: now)))) ?? Data(#"{"bans":[]}"#.utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
