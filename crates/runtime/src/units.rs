//! Durations and byte counts written the way a user typed them (`30s`, `1m30s`, `64 MiB`), so
//! a failure message quotes the limit in the user's own terms.

use std::time::Duration;

/// A compact duration: the non-zero parts of `h`, `m`, `s`, `ms` (and `us` below a
/// millisecond), e.g. `500ms`, `2s`, `1m30s`, `1h5m`; zero is `0s`.
pub(crate) fn duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_string();
    }
    if d < Duration::from_millis(1) {
        return format!("{}us", d.as_micros());
    }
    let secs = d.as_secs();
    let parts = [
        (secs / 3600, "h"),
        (secs / 60 % 60, "m"),
        (secs % 60, "s"),
        (u64::from(d.subsec_millis()), "ms"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect()
}

/// Bytes in binary units: exact multiples as integers (`64 MiB`), others with one decimal
/// (`1.5 GiB`), below 1 KiB as bytes (`512 B`).
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut unit = 0;
    let mut scale = 1024u64;
    while unit + 1 < UNITS.len() && n / scale >= 1024 {
        unit += 1;
        scale *= 1024;
    }
    if n.is_multiple_of(scale) {
        format!("{} {}", n / scale, UNITS[unit])
    } else {
        format!("{:.1} {}", n as f64 / scale as f64, UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_command_line() {
        let ms = Duration::from_millis;
        assert_eq!(duration(Duration::from_secs(30)), "30s");
        assert_eq!(duration(ms(500)), "500ms");
        assert_eq!(duration(ms(2000)), "2s");
        assert_eq!(duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration(ms(1500)), "1s500ms");
        assert_eq!(duration(Duration::from_secs(3900)), "1h5m");
        assert_eq!(duration(Duration::ZERO), "0s");
        assert_eq!(duration(Duration::from_micros(250)), "250us");
    }

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(bytes(64 << 20), "64 MiB");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1024), "1 KiB");
        assert_eq!(bytes(3 << 29), "1.5 GiB");
        assert_eq!(bytes(2 << 40), "2 TiB");
        assert_eq!(bytes(u64::MAX), "16.0 EiB");
    }
}
