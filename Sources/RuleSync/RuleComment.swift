/// Comments carry Service names, which come from tenants (and, from a file manifest, are not even
/// validated), so each backend gets them in a form that cannot break its ruleset: short enough for
/// the kernel and the tools, and unable to end the quoted text they sit in.
public enum RuleComment {
    /// nft takes comments of up to 128 bytes (libnftnl's `NFTNL_UDATA_COMMENT_MAXLEN`; nft 1.0.6
    /// refuses 129) and the kernel 256 bytes of userdata in all (`NFT_USERDATA_MAXLEN`). Our encoder
    /// stores at most 127 bytes and a NUL, and the validation refuses more, so 127 it is.
    public static let nftablesMaxBytes = 127
    /// xt_comment keeps `XT_MAX_COMMENT_LEN` (256) bytes with the NUL; iptables 1.8 silently cuts
    /// longer text at byte 255, inside a character if one is there.
    public static let iptablesMaxBytes = 255

    /// The comment as an nftables rule or element stores it: control characters as spaces and `"`
    /// as `'` (`nft list` prints comments in quotes, unescaped, so either would make the listing
    /// unreadable to `nft -f`), cut to `nftablesMaxBytes` between characters.
    public static func nftables(_ text: String) -> String {
        let clean = text.unicodeScalars.contains(where: { isControl($0) || $0 == "\"" })
            ? String(String.UnicodeScalarView(text.unicodeScalars.map { isControl($0) ? " " : $0 == "\"" ? "'" : $0 }))
            : text
        return clean.prefix(utf8Bytes: nftablesMaxBytes)
    }

    /// The comment as one `iptables-restore` argument, quotes included: control characters (a
    /// newline would end the rule's line and start another) as spaces, cut to xt_comment's limit
    /// between characters, then `\` and `"` escaped as `iptables-restore` reads them inside quotes.
    public static func iptables(_ text: String) -> String {
        let clean = String(String.UnicodeScalarView(text.unicodeScalars.map { isControl($0) ? " " : $0 }))
            .prefix(utf8Bytes: iptablesMaxBytes)
        var quoted = "\""
        for scalar in clean.unicodeScalars {
            if scalar == "\"" || scalar == "\\" { quoted.unicodeScalars.append("\\") }
            quoted.unicodeScalars.append(scalar)
        }
        quoted += "\""
        return quoted
    }

    /// C0 and C1 controls and DEL: never part of a name anyone meant to show.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}

extension String {
    /// The longest prefix of whole characters that fits in `limit` UTF-8 bytes: a cut never splits
    /// a multi-byte character, nor a character made of several scalars (an accent, an emoji sequence).
    func prefix(utf8Bytes limit: Int) -> String {
        if utf8.count <= limit { return self }
        var bytes = 0
        var end = startIndex
        for index in indices {
            let next = self.index(after: index)
            bytes += self[index..<next].utf8.count
            if bytes > limit { break }
            end = next
        }
        return String(self[..<end])
    }
}
