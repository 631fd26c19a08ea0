//! geno's init in local containers (init/geno-init.rs, built by build.rs):
//! which containers run their command under it, the command line that
//! wraps theirs, and the request that restarts the process in place.
//!
//! Pure: the Docker adapter copies `BINARY` into a container before it
//! starts and runs `restart_request` with the Engine API's exec.

use std::sync::OnceLock;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::stack::{Service, ServiceKind, WatchAction};

/// The static executable (a few hundred KiB), as build.rs made it.
pub const BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/geno-init"));

/// Where it lies in a container: beside nothing of the image's.
pub const PATH: &str = "/.geno/init";

/// The exit code of a restart request in a container where no geno-init
/// supervises the process (a container made before geno had one).
pub const NOT_SUPERVISED: i64 = 3;

/// The binary's identity (in a container's desired state, so a container
/// made with another build of the init is replaced by the next `up`).
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| hex::encode(&Sha256::digest(BINARY)[..6]))
}

/// Whether the service's own containers run under geno-init: those of a
/// long-running service whose watch rules restart it. (Sidecars, jobs and
/// one-off runs keep their command as PID 2 under Docker's init.)
pub fn supervises(svc: &Service) -> bool {
    svc.kind == ServiceKind::Service
        && svc
            .develop
            .watch
            .iter()
            .any(|r| matches!(r.action, WatchAction::SyncRestart | WatchAction::Restart))
}

/// The entrypoint of a supervised container: geno-init, the signal that
/// stops the process (Docker's default, SIGTERM, unless the image says
/// otherwise), then the program's own entrypoint. Its command stays its own.
pub fn entrypoint(program: &[String], stop_signal: Option<i32>) -> Vec<String> {
    let mut out = vec![PATH.to_string()];
    if let Some(signal) = stop_signal {
        out.extend(["--stop-signal".to_string(), signal.to_string()]);
    }
    out.push("--".into());
    out.extend(program.iter().cloned());
    out
}

/// The program's own entrypoint in a container's `Entrypoint`: what
/// follows geno-init's `--` (all of it, in a container without the init).
pub fn unwrapped(entrypoint: &[String]) -> &[String] {
    match entrypoint.split_first() {
        Some((first, rest)) if first == PATH => rest
            .iter()
            .position(|a| a == "--")
            .map(|at| &rest[at + 1..])
            .unwrap_or(rest),
        _ => entrypoint,
    }
}

/// The program geno-init runs, as Docker would have run it without:
/// the entrypoint (stack.yaml's, else the image's) and then the command,
/// where stack.yaml's replaces the image's, and an entrypoint set in
/// stack.yaml drops the image's command (Docker's rule).
pub fn program(
    entrypoint: Option<&[String]>,
    command: Option<&[String]>,
    image_entrypoint: &[String],
    image_command: &[String],
) -> (Vec<String>, Vec<String>) {
    match entrypoint {
        Some(e) => (
            e.to_vec(),
            command.map(<[String]>::to_vec).unwrap_or_default(),
        ),
        None => (
            image_entrypoint.to_vec(),
            command.unwrap_or(image_command).to_vec(),
        ),
    }
}

/// A signal as Docker's `StopSignal` spells it (`SIGQUIT`, `QUIT` or
/// `3`), as its Linux number.
pub fn signal_number(name: &str) -> Option<i32> {
    if let Ok(n) = name.parse::<i32>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let name = name.trim_start_matches("SIG");
    const NAMES: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2",
        "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG",
        "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    NAMES.iter().position(|n| *n == name).map(|i| i as i32 + 1)
}

/// How a restart stops the running process: the container's stop signal,
/// then SIGKILL after `grace` (what `docker stop` and ECS do, so work in
/// progress finishes), unless `idle` (stack.yaml's `develop.idle`, as an
/// argv) says it runs none: then SIGKILL at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restart {
    pub grace: Duration,
    pub idle: Option<Vec<String>>,
}

impl Restart {
    /// For a container of `svc`, whose stop grace period is `grace`.
    pub fn of(svc: &Service) -> Restart {
        Restart {
            grace: svc.stop_grace_period.0,
            idle: svc
                .develop
                .idle
                .as_ref()
                .and_then(|t| crate::local::readiness::probe_command(&t.0)),
        }
    }
}

/// SIGKILL: an idle process has nothing to finish.
pub const IDLE_SIGNAL: i32 = 9;

/// The exec that asks the container's geno-init to restart its process.
pub fn restart_request(r: &Restart) -> Vec<String> {
    let mut out = vec![
        PATH.to_string(),
        "--restart".into(),
        "stop".into(),
        r.grace.as_millis().to_string(),
    ];
    if let Some(test) = &r.idle {
        out.extend(["--idle".into(), IDLE_SIGNAL.to_string(), "--".into()]);
        out.extend(test.iter().cloned());
    }
    out
}

/// How a container asked to restart its process in place was restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Respawned {
    /// Its process, by geno-init, which said how.
    Process(Restarted),
    /// The whole container, and why not its process.
    Container(String),
}

impl Respawned {
    /// What the edit loop says after the container's name.
    pub fn words(&self) -> String {
        match self {
            Respawned::Process(r) => match r.idle {
                Some(true) => "idle: at once".into(),
                Some(false) => format!("busy: {:.1}s to finish", r.stop.as_secs_f64()),
                None if r.ended.ends_with(",killed") => {
                    format!("killed after its {:.0}s grace period", r.stop.as_secs_f64())
                }
                None => "the process".into(),
            },
            Respawned::Container(why) => format!("the container: {why}"),
        }
    }
}

/// What geno-init said it did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restarted {
    /// How the old process ended (`exit:0`, `signal:9`, with `,killed`
    /// when the grace period ran out).
    pub ended: String,
    pub stop: Duration,
    /// Whether the idle test found it idle (`None`: no test).
    pub idle: Option<bool>,
}

impl Restarted {
    /// `old=PID ended=HOW stop_ms=MS idle=yes|no|- new=PID`.
    pub fn read(answer: &str) -> Option<Restarted> {
        let field = |key: &str| {
            answer
                .split_whitespace()
                .find_map(|f| f.strip_prefix(key)?.strip_prefix('='))
        };
        Some(Restarted {
            ended: field("ended")?.to_string(),
            stop: Duration::from_millis(field("stop_ms")?.parse().ok()?),
            idle: match field("idle")? {
                "yes" => Some(true),
                "no" => Some(false),
                _ => None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_program_is_what_docker_would_have_run() {
        let (ie, ic) = (v(&["docker-entrypoint.sh"]), v(&["postgres"]));
        // Nothing in stack.yaml: the image's entrypoint and command.
        assert_eq!(
            program(None, None, &ie, &ic),
            (v(&["docker-entrypoint.sh"]), v(&["postgres"]))
        );
        // A command: the image's entrypoint runs it.
        let cmd = v(&["uvicorn", "app:app"]);
        assert_eq!(
            program(None, Some(&cmd), &ie, &ic),
            (v(&["docker-entrypoint.sh"]), cmd.clone())
        );
        // An entrypoint of stack.yaml's drops the image's command.
        let e = v(&["python"]);
        assert_eq!(program(Some(&e), None, &ie, &ic), (e.clone(), v(&[])));
        assert_eq!(
            program(Some(&e), Some(&cmd), &ie, &ic),
            (e.clone(), cmd.clone())
        );
    }

    #[test]
    fn the_entrypoint_puts_geno_init_before_the_programs_own() {
        assert_eq!(
            entrypoint(&v(&["docker-entrypoint.sh"]), Some(3)),
            v(&[
                "/.geno/init",
                "--stop-signal",
                "3",
                "--",
                "docker-entrypoint.sh"
            ])
        );
        assert_eq!(entrypoint(&[], None), v(&["/.geno/init", "--"]));
        // And taken off again where the container's own is compared.
        let wrapped = entrypoint(&v(&["docker-entrypoint.sh", "--"]), Some(3));
        assert_eq!(unwrapped(&wrapped), v(&["docker-entrypoint.sh", "--"]));
        assert_eq!(unwrapped(&v(&["tini", "--"])), v(&["tini", "--"]));
    }

    #[test]
    fn signals_are_read_as_docker_spells_them() {
        assert_eq!(signal_number("SIGTERM"), Some(15));
        assert_eq!(signal_number("QUIT"), Some(3));
        assert_eq!(signal_number("SIGKILL"), Some(9));
        assert_eq!(signal_number("SIGSYS"), Some(31));
        assert_eq!(signal_number("9"), Some(9));
        assert_eq!(signal_number("SIGRTMIN+3"), None);
        assert_eq!(signal_number("0"), None);
        assert_eq!(signal_number("NOPE"), None);
    }

    #[test]
    fn a_restart_request_carries_the_grace_in_milliseconds_and_the_idle_test() {
        let mut r = Restart {
            grace: Duration::from_secs(10),
            idle: None,
        };
        assert_eq!(
            restart_request(&r),
            v(&["/.geno/init", "--restart", "stop", "10000"])
        );
        r.idle = Some(v(&["/bin/sh", "-c", "test ! -e /tmp/busy"]));
        assert_eq!(
            restart_request(&r),
            v(&[
                "/.geno/init",
                "--restart",
                "stop",
                "10000",
                "--idle",
                "9",
                "--",
                "/bin/sh",
                "-c",
                "test ! -e /tmp/busy"
            ])
        );
    }

    #[test]
    fn the_inits_answer_is_read_field_by_field() {
        assert_eq!(
            Restarted::read("old=12 ended=signal:9 stop_ms=4 idle=yes new=40"),
            Some(Restarted {
                ended: "signal:9".into(),
                stop: Duration::from_millis(4),
                idle: Some(true),
            })
        );
        assert_eq!(
            Restarted::read("old=12 ended=exit:0,killed stop_ms=10003 idle=- new=40")
                .map(|r| (r.ended, r.idle)),
            Some(("exit:0,killed".into(), None))
        );
        assert_eq!(Restarted::read("restarted"), None);
    }

    #[test]
    fn the_loop_says_how_each_process_went() {
        let said = |answer: &str| Respawned::Process(Restarted::read(answer).unwrap()).words();
        assert_eq!(
            said("old=1 ended=signal:9 stop_ms=4 idle=yes new=2"),
            "idle: at once"
        );
        assert_eq!(
            said("old=1 ended=exit:0 stop_ms=2712 idle=no new=2"),
            "busy: 2.7s to finish"
        );
        assert_eq!(
            said("old=1 ended=signal:9,killed stop_ms=10004 idle=- new=2"),
            "killed after its 10s grace period"
        );
        assert_eq!(
            said("old=1 ended=signal:15 stop_ms=150 idle=- new=2"),
            "the process"
        );
        assert_eq!(
            Respawned::Container("it has no geno init".into()).words(),
            "the container: it has no geno init"
        );
    }

    #[test]
    fn the_binary_is_a_static_executable() {
        assert_eq!(&BINARY[..4], b"\x7fELF");
        // No program header of type PT_INTERP (3): no dynamic loader, so
        // no C library of the image's is needed.
        let u16_at = |at: usize| u16::from_le_bytes([BINARY[at], BINARY[at + 1]]) as usize;
        let phoff = u64::from_le_bytes(BINARY[0x20..0x28].try_into().unwrap()) as usize;
        let (size, count) = (u16_at(0x36), u16_at(0x38));
        assert!(count > 0);
        let types: Vec<u32> = (0..count)
            .map(|i| {
                let at = phoff + i * size;
                u32::from_le_bytes(BINARY[at..at + 4].try_into().unwrap())
            })
            .collect();
        assert!(!types.contains(&3), "program headers {types:?}");
        assert_eq!(version().len(), 12);
    }
}
