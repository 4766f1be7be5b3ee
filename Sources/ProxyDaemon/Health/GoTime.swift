import Glibc

/// Go's `time.Time.String()` layout, which kube-proxy's health bodies use:
/// `2006-01-02 15:04:05.999999999 -0700 MST` (in UTC here), and Go's zero time when there is none.
enum GoTime {
    static let zero = "0001-01-01 00:00:00 +0000 UTC"

    static func string(_ seconds: Double?) -> String {
        guard let seconds else { return zero }
        var whole = time_t(seconds.rounded(.down))
        var nanos = Int(((seconds - Double(whole)) * 1e9).rounded())
        if nanos >= 1_000_000_000 { whole += 1; nanos -= 1_000_000_000 }
        var parts = tm()
        gmtime_r(&whole, &parts)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        var text = "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
        if nanos > 0 {
            var fraction = String(nanos)
            fraction = String(repeating: "0", count: 9 - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text + " +0000 UTC"
    }
}
