//! Which process holds a `running` row, and whether that process is still alive.
//!
//! A row records the host name, the PID and a start marker of the process that began it.
//! A PID alone is not enough: PIDs are reused, so a row of a process killed last week
//! could look alive because some unrelated process got its PID. The start marker is
//! `BOOT_ID PID_NAMESPACE START_TICKS` on Linux: the kernel's boot ID (new at every
//! boot), the PID namespace (a container has its own PIDs) and the process's start time in
//! clock ticks since boot (field 22 of `/proc/PID/stat`). A process with the same PID, the
//! same namespace and the same start time in the same boot is the same process.
//!
//! From that, a row is judged:
//! - another host name: unknown (the database is shared with another machine or pod,
//!   whose processes cannot be seen from here), left as it is;
//! - this host, another boot: gone (the machine restarted since);
//! - this boot, another PID namespace: unknown, left as it is;
//! - this namespace: gone when no process has that PID, when the one that has it started
//!   at another time (a reused PID) or when it is a zombie; alive otherwise.
//!
//! Off Linux no marker is recorded and rows are never judged gone.

use std::sync::OnceLock;

/// The process behind a history row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessIdentity {
    /// The host name (in a container, the pod's or container's).
    pub host: String,
    /// The process ID.
    pub pid: u32,
    /// `BOOT_ID PID_NAMESPACE START_TICKS` (see the module's documentation).
    pub start: String,
}

/// What can be said of a recorded process from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// It is still running.
    Alive,
    /// It has ended (or the machine restarted since).
    Gone,
    /// It ran where this process cannot look (another host or PID namespace).
    Unknown,
}

impl ProcessIdentity {
    /// This process, or `None` where it cannot be told (off Linux, or `/proc` unreadable).
    pub fn current() -> Option<&'static ProcessIdentity> {
        static CURRENT: OnceLock<Option<ProcessIdentity>> = OnceLock::new();
        CURRENT
            .get_or_init(|| {
                let pid = std::process::id();
                let (boot, namespace) = (boot_id()?, pid_namespace("self")?);
                let ticks = start_ticks(&pid.to_string())?;
                Some(ProcessIdentity {
                    host: host_name()?,
                    pid,
                    start: format!("{boot} {namespace} {ticks}"),
                })
            })
            .as_ref()
    }

    /// Whether the process a row recorded (`host`, `pid`, `start`) is alive, seen from
    /// this process (`self`).
    pub fn judge(&self, host: &str, pid: u32, start: &str) -> Liveness {
        if host != self.host {
            return Liveness::Unknown;
        }
        let mine: Vec<&str> = self.start.split(' ').collect();
        let theirs: Vec<&str> = start.split(' ').collect();
        let (&[boot, namespace, ticks], &[my_boot, my_namespace, _]) =
            (theirs.as_slice(), mine.as_slice())
        else {
            return Liveness::Unknown;
        };
        if boot != my_boot {
            return Liveness::Gone;
        }
        if namespace != my_namespace {
            return Liveness::Unknown;
        }
        match process_state(&pid.to_string()) {
            None => Liveness::Gone,
            Some(('Z' | 'X', _)) => Liveness::Gone,
            Some((_, now)) if now != ticks => Liveness::Gone,
            Some(_) => Liveness::Alive,
        }
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn boot_id() -> Option<String> {
    read_trimmed("/proc/sys/kernel/random/boot_id")
}

fn host_name() -> Option<String> {
    read_trimmed("/proc/sys/kernel/hostname")
}

/// `pid:[4026531836]`: the namespace's inode, the same for every process that shares it.
fn pid_namespace(pid: &str) -> Option<String> {
    let link = std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok()?;
    Some(link.to_string_lossy().into_owned())
}

fn start_ticks(pid: &str) -> Option<String> {
    process_state(pid).map(|(_, ticks)| ticks)
}

/// The state letter and start time (ticks since boot) of `/proc/PID/stat`.
fn process_state(pid: &str) -> Option<(char, String)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces or parentheses:
    // the fields that follow start after the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (the state); the start time is field 22.
    let state = fields.first()?.chars().next()?;
    Some((state, fields.get(22 - 3)?.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reused_or_ended_pid_is_not() {
        let me = ProcessIdentity::current().expect("Linux with /proc");
        assert_eq!(me.judge(&me.host, me.pid, &me.start), Liveness::Alive);

        // The same PID with another start time: the PID was reused by another process.
        let (boot, namespace) = (boot_id().unwrap(), pid_namespace("self").unwrap());
        let reused = format!("{boot} {namespace} 1");
        assert_eq!(me.judge(&me.host, me.pid, &reused), Liveness::Gone);

        // A child that has exited and been waited for has no /proc entry.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let ended = format!("{boot} {namespace} 12345");
        assert_eq!(me.judge(&me.host, pid, &ended), Liveness::Gone);

        // Another boot of this host: everything recorded before it is gone.
        let rebooted = format!("00000000-dead-beef-0000-000000000000 {namespace} 1");
        assert_eq!(me.judge(&me.host, me.pid, &rebooted), Liveness::Gone);

        // Another host or another PID namespace cannot be seen from here.
        assert_eq!(
            me.judge("some-other-pod", me.pid, &me.start),
            Liveness::Unknown
        );
        let elsewhere = format!("{boot} pid:[1] 1");
        assert_eq!(me.judge(&me.host, me.pid, &elsewhere), Liveness::Unknown);
        assert_eq!(me.judge(&me.host, me.pid, "garbled"), Liveness::Unknown);
    }

    #[test]
    fn a_zombie_is_not_alive() {
        let me = ProcessIdentity::current().unwrap();
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id().to_string();
        // Not waited for: once it exits it stays a zombie until reaped.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while process_state(&pid).is_some_and(|(s, _)| s != 'Z') {
            assert!(
                std::time::Instant::now() < deadline,
                "the child never exited"
            );
            std::thread::yield_now();
        }
        let (boot, namespace) = (boot_id().unwrap(), pid_namespace("self").unwrap());
        let ticks = start_ticks(&pid).unwrap();
        let start = format!("{boot} {namespace} {ticks}");
        assert_eq!(me.judge(&me.host, child.id(), &start), Liveness::Gone);
        drop(child);
    }
}
