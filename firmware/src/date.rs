//! RFC 5322 §3.3 dates from a Unix time (UTC), without a calendar library.

use core::fmt;

/// A moment as seconds since 1970-01-01T00:00:00Z, shown as an RFC 5322 date-time in UTC:
/// `Fri, 04 Dec 2026 18:56:25 +0000`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rfc5322Date(pub u64);

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The proleptic Gregorian (year, month 1..=12, day 1..=31) of a day count since 1970-01-01,
/// counting in 400-year eras that start on 1 March (so the leap day ends a year).
fn civil(days: u64) -> (u64, usize, u64) {
    // Days from 0000-03-01 to 1970-01-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of the era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = era * 400 + yoe + u64::from(month <= 2);
    // `month` is 1..=12 by construction.
    (year, month as usize, day)
}

impl fmt::Display for Rfc5322Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0 / 86_400;
        let secs = self.0 % 86_400;
        let (year, month, day) = civil(days);
        write!(
            f,
            "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
            DAYS[(days % 7) as usize],
            day,
            MONTHS[month - 1],
            year,
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Rfc5322Date;
    use std::string::ToString;

    #[test]
    fn dates_across_leap_days_centuries_and_the_epoch() {
        let cases = [
            (0, "Thu, 01 Jan 1970 00:00:00 +0000"),
            (951_782_400, "Tue, 29 Feb 2000 00:00:00 +0000"),
            (1_709_210_096, "Thu, 29 Feb 2024 12:34:56 +0000"),
            (1_796_410_920, "Fri, 04 Dec 2026 19:02:00 +0000"),
            // 2100 is not a leap year: 28 February is followed by 1 March.
            (4_107_542_399, "Sun, 28 Feb 2100 23:59:59 +0000"),
            (4_107_542_400, "Mon, 01 Mar 2100 00:00:00 +0000"),
            (253_402_300_799, "Fri, 31 Dec 9999 23:59:59 +0000"),
        ];
        for (t, want) in cases {
            assert_eq!(Rfc5322Date(t).to_string(), want, "unix time {t}");
        }
    }
}
