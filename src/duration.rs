//! The DURATION grammar (README, "Addresses"): `500ms`, `10s`, `2m`, `1h`, or a bare number of
//! seconds (`1.5`); `50us` (or `50µs`) for the microseconds of `relay --busy-poll`. Used as a clap value parser by every option that takes a duration.
//! humantime reads and writes the forms with a unit (and so also takes `1m30s` or `2.5s`).

use std::time::Duration;

/// The longest DURATION: far beyond any real wait, and far below the ~9.2e18 s at which
/// `Instant + d` panics, so that no deadline computed from a DURATION can overflow.
const MAX_YEARS: u64 = 100;
const MAX: Duration = Duration::from_secs(MAX_YEARS * 31_557_600);

/// A `--max-time`: the limit as given, and the instant it runs out (none without one).
pub struct MaxTime {
    limit: Option<Duration>,
    deadline: Option<tokio::time::Instant>,
}

impl MaxTime {
    pub fn new(limit: Option<Duration>) -> MaxTime {
        let limit = self::limit(limit);
        MaxTime {
            limit,
            deadline: limit.map(|d| tokio::time::Instant::now() + d),
        }
    }

    /// Ready once the time is up; never without a limit.
    pub async fn expired(&self) {
        match self.deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    }

    /// What is left of it.
    pub fn left(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(tokio::time::Instant::now()))
    }

    /// `work`, or `late` once the time is up: what can be done at once still is.
    pub async fn before<T>(&self, work: impl Future<Output = T>, late: T) -> T {
        tokio::select! {
            biased;
            r = work => r,
            _ = self.expired() => late,
        }
    }

    /// `WHAT: DOING within 2s (--max-time)`: the message of a command that ran out of it.
    pub fn missed(&self, what: &str, doing: &str) -> String {
        let limit = show(self.limit.unwrap_or_default());
        format!("{what}: {doing} within {limit} (--max-time)")
    }
}

/// A limit as the options that bound a wait take it: 0 is none, as with curl's `-m 0` and
/// grpcurl's `-max-time 0` (`--max-time`, a client's `--connect-timeout`, `-w`/`--idle-timeout`,
/// `--header-timeout`).
pub fn limit(d: Option<Duration>) -> Option<Duration> {
    d.filter(|d| !d.is_zero())
}

/// A DURATION where 0 would make no sense (relay's `--connect-timeout`, which bounds the wait
/// for TARGET; `--reply-timeout`; sendto's `--timeout`; ls's `--interval`).
pub fn positive(s: &str) -> Result<Duration, String> {
    match parse(s)? {
        d if d.is_zero() => Err("must be longer than 0".to_string()),
        d => Ok(d),
    }
}

pub fn parse(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "'{s}' is not a duration: write 500ms, 10s, 2m, 1h or a number of seconds such as 1.5"
        )
    };
    let too_long = || format!("'{s}' is too long: a duration is at most {MAX_YEARS} years");
    // humantime wants a unit; a bare number (digits and one dot, as sleep(1) takes it) is seconds.
    let d = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let n: f64 = s.parse().map_err(|_| bad())?;
        Duration::try_from_secs_f64(n).map_err(|_| too_long())?
    } else {
        humantime::parse_duration(s).map_err(|e| match e {
            humantime::DurationError::NumberOverflow => too_long(),
            _ => bad(),
        })?
    };
    if d > MAX {
        return Err(too_long());
    }
    Ok(d)
}

/// The short form used in messages: `250ms`, `1s 500ms`, `2m`, `50us`.
pub fn show(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse("50us"), Ok(Duration::from_micros(50)));
        assert_eq!(parse("50µs"), Ok(Duration::from_micros(50)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("0.1"), Ok(Duration::from_millis(100)));
        assert_eq!(parse(".5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("2.5s"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(positive("0ms"), Err("must be longer than 0".to_string()));
        assert_eq!(positive("1ms"), Ok(Duration::from_millis(1)));
        assert_eq!(limit(Some(Duration::ZERO)), None);
        assert_eq!(
            limit(Some(Duration::from_secs(1))),
            Some(Duration::from_secs(1))
        );
        for bad in [
            "", "s", "1x", "-1", "+1", "1.5.5s", "nan", "inf", ".", "1e3",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(show(Duration::from_micros(50)), "50us");
        assert_eq!(show(Duration::from_millis(250)), "250ms");
        assert_eq!(show(Duration::from_millis(1500)), "1s 500ms");
        assert_eq!(show(Duration::from_secs(1)), "1s");
        assert_eq!(show(Duration::from_secs(120)), "2m");
    }

    /// A duration that `Instant::now() + d` (every deadline) or tokio's sleep could not
    /// hold is refused here, as a usage error, instead of panicking later.
    #[test]
    fn absurd_durations_are_refused() {
        let too_long = "is too long: a duration is at most 100 years";
        for s in [
            "9223372036854775807",
            "9223372036854775807s",
            "18446744073709551615s",
            "99999999999999999999999",
            "1e400",
            "101y",
            "30000000000h",
        ] {
            let e = parse(s).unwrap_err();
            assert!(
                e.contains(too_long) || e.contains("is not a duration"),
                "{s}: {e}"
            );
        }
        assert!(parse("9223372036854775807").unwrap_err().contains(too_long));
        assert!(parse("101y").unwrap_err().contains(too_long));
        let longest = parse("100y").unwrap();
        assert!(std::time::Instant::now().checked_add(longest).is_some());
    }
}
