/// Kubernetes timestamps: RFC 3339 in UTC, e.g. `2024-01-02T03:04:05Z` (fractions allowed).
public enum KubernetesTime {
    /// Seconds since 1970 for an RFC 3339 time, or nil when it does not parse.
    public static func secondsSince1970(_ text: String) -> Double? {
        let utf8 = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= utf8.count else { return nil }
            var n = 0
            for i in range {
                guard (48...57).contains(utf8[i]) else { return nil }
                n = n * 10 + Int(utf8[i] - 48)
            }
            return n
        }
        guard utf8.count >= 20, utf8[4] == 45, utf8[7] == 45, utf8[10] == 84 || utf8[10] == 116,
              utf8[13] == 58, utf8[16] == 58,
              let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var index = 19
        var fraction = 0.0
        if index < utf8.count, utf8[index] == 46 {
            index += 1
            var scale = 0.1
            while index < utf8.count, (48...57).contains(utf8[index]) {
                fraction += Double(utf8[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offset = 0
        guard index < utf8.count else { return nil }
        if utf8[index] == 90 || utf8[index] == 122 {
            index += 1
        } else if utf8[index] == 43 || utf8[index] == 45, let oh = number(index + 1..<index + 3),
                  index + 3 < utf8.count, utf8[index + 3] == 58, let om = number(index + 4..<index + 6) {
            offset = (oh * 3600 + om * 60) * (utf8[index] == 43 ? 1 : -1)
            index += 6
        } else {
            return nil
        }
        guard index == utf8.count else { return nil }
        return Double(daysSinceEpoch(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second - offset)
            + fraction
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's civil-days algorithm).
    static func daysSinceEpoch(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
