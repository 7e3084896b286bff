//! Signal names as `kill` accepts them: a number (`9`), a name (`KILL`) or `SIGKILL`.

use crate::error::{Error, Result};

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

pub fn parse(s: &str) -> Result<i32> {
    let bad = || Error::Msg(format!("unknown signal {s:?}"));
    // 0 checks that the process exists, as with kill(1); runc accepts it.
    if let Ok(n) = s.parse::<i32>() {
        return if (0..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
        return Ok(n);
    }
    // Real-time signals as RTMIN, RTMIN+N, RTMAX-N.
    let (rtmin, rtmax) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    let rt = if name == "RTMIN" {
        Some(rtmin)
    } else if name == "RTMAX" {
        Some(rtmax)
    } else if let Some(n) = name.strip_prefix("RTMIN+") {
        n.parse::<i32>().ok().map(|n| rtmin + n)
    } else if let Some(n) = name.strip_prefix("RTMAX-") {
        n.parse::<i32>().ok().map(|n| rtmax - n)
    } else {
        None
    };
    rt.filter(|n| (rtmin..=rtmax).contains(n)).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_numbers_and_names() {
        assert_eq!(super::parse("9").unwrap(), libc::SIGKILL);
        assert_eq!(super::parse("KILL").unwrap(), libc::SIGKILL);
        assert_eq!(super::parse("SIGTERM").unwrap(), libc::SIGTERM);
        assert_eq!(super::parse("sigusr1").unwrap(), libc::SIGUSR1);
        assert_eq!(super::parse("RTMIN+1").unwrap(), libc::SIGRTMIN() + 1);
        assert!(super::parse("NOPE").is_err());
        assert_eq!(super::parse("0").unwrap(), 0);
        assert!(super::parse("65").is_err());
    }
}
