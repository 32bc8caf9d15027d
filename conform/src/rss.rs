//! The resident memory of a process, from Linux's `/proc/PID/status`.

/// `VmRSS` of process `pid`, in bytes: the pages it has touched that are
/// in memory (memory reserved but never written is not counted).
///
/// # Errors
/// The file cannot be read (no such process, not Linux) or has no VmRSS.
pub fn resident(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    parse(&status).ok_or_else(|| format!("{path} has no VmRSS line"))
}

fn parse(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let kb = line.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()?;
    kb.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vmrss_in_bytes() {
        assert_eq!(
            parse("Name:\tx\nVmRSS:\t    1234 kB\nVmSwap: 0 kB\n"),
            Some(1234 * 1024)
        );
        assert_eq!(parse("VmRSS: lots\n"), None);
        assert!(resident(std::process::id()).unwrap() > 0);
        assert!(resident(u32::MAX).is_err());
    }
}
