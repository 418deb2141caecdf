//! RFC 5322 §3.3 dates, from a clock the caller gives (the core reads no clock).
//!
//! ```text
//! date-time = [ day-of-week "," ] date time [CFWS]
//! date      = day month year        time = time-of-day zone
//! zone      = (FWS) ( "+" / "-" ) 4DIGIT
//! ```

use core::fmt;

use crate::error::Error;

/// A point in time and the sender's UTC offset, written as `Sun, 22 Nov 2026 22:25:00 +0100`.
///
/// ```
/// use postel_mime::DateTime;
/// let d = DateTime::from_unix(1_795_386_300, 60)?;
/// assert_eq!(d.to_string(), "Sun, 22 Nov 2026 23:25:00 +0100");
/// # Ok::<(), postel_mime::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    unix: i64,
    offset_minutes: i16,
}

const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl DateTime {
    /// `unix` seconds since 1970-01-01T00:00:00Z, shown in the zone `offset_minutes` east
    /// of UTC (between -23:59 and +23:59). Years must be 1900–9999 (RFC 5322 §3.3: four digits).
    pub fn from_unix(unix: i64, offset_minutes: i16) -> Result<Self, Error> {
        // 1900-01-01 and 9999-12-31T23:59:59, with room for the offset.
        if !(-2_208_988_800 + 86_400..=253_402_300_799 - 86_400).contains(&unix)
            || offset_minutes.unsigned_abs() >= 24 * 60
        {
            return Err(Error::InvalidValue {
                field: "Date".into(),
                reason: "time outside years 1900-9999 or offset beyond ±23:59",
            });
        }
        Ok(DateTime {
            unix,
            offset_minutes,
        })
    }

    /// The current system time in UTC (`+0000`).
    #[cfg(feature = "std")]
    pub fn now() -> Self {
        let unix = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(0),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(0),
        };
        DateTime {
            unix,
            offset_minutes: 0,
        }
    }

    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        self.unix
    }

    /// The UTC offset in minutes.
    pub fn offset_minutes(&self) -> i16 {
        self.offset_minutes
    }

    /// The instant in UTC as RFC 3339 `YYYY-MM-DDTHH:MM:SSZ` (for logs), whatever the offset.
    pub fn rfc3339_utc(&self) -> Rfc3339Utc {
        Rfc3339Utc(self.unix)
    }
}

/// [`DateTime::rfc3339_utc`]'s display form.
#[derive(Clone, Copy, Debug)]
pub struct Rfc3339Utc(i64);

impl fmt::Display for Rfc3339Utc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil(self.0.div_euclid(86_400));
        let secs = self.0.rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

/// Days since 1970-01-01 to (year, month 1-12, day 1-31): Hinnant's `civil_from_days`.
fn civil(days: i64) -> (i64, usize, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m as usize, d)
}

impl fmt::Display for DateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = self.unix + i64::from(self.offset_minutes) * 60;
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (y, m, d) = civil(days);
        let sign = if self.offset_minutes < 0 { '-' } else { '+' };
        let off = self.offset_minutes.unsigned_abs();
        write!(
            f,
            "{}, {} {} {:04} {:02}:{:02}:{:02} {}{:02}{:02}",
            DAYS[days.rem_euclid(7) as usize],
            d,
            MONTHS[m - 1],
            y,
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
            sign,
            off / 60,
            off % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn known_dates() {
        let f = |u, o| DateTime::from_unix(u, o).unwrap().to_string();
        assert_eq!(f(0, 0), "Thu, 1 Jan 1970 00:00:00 +0000");
        assert_eq!(f(951_782_400, 0), "Tue, 29 Feb 2000 00:00:00 +0000");
        assert_eq!(f(0, -330), "Wed, 31 Dec 1969 18:30:00 -0530");
        assert_eq!(f(1_795_386_300, 0), "Sun, 22 Nov 2026 22:25:00 +0000");
        assert!(DateTime::from_unix(0, 24 * 60).is_err());
    }
}
