//! geno-init: the supervisor geno puts in front of a service's command in
//! local containers whose watch rules restart it, so that an edit restarts
//! the process, not the container (no stop/start, same network endpoint).
//!
//! Built by geno's build script as one static executable (std only, no
//! crates: it runs in any Linux image, glibc, musl or none) and copied into
//! the container as `/.geno/init` before it starts.
//!
//! - `geno-init [--stop-signal N] -- PROGRAM ARGS…` runs PROGRAM in its own process group
//!   and waits. Signals it receives are passed on to PROGRAM (Docker's own
//!   init is PID 1 above it and passes `docker stop`'s signal here); when
//!   PROGRAM exits on its own, geno-init exits with its code (128 + the
//!   signal for a killed one), so the container ends as it would without
//!   geno-init. It is the subreaper of PROGRAM's descendants.
//! - `geno-init --restart SIGNAL GRACE_MS [--idle IDLE_SIGNAL -- TEST…]`
//!   (run by geno with the Engine API's exec) asks the supervisor, over a
//!   socket only its own container sees, to send SIGNAL (a number, or
//!   `stop`: N above, else SIGTERM) to PROGRAM, wait up to GRACE_MS for it
//!   to exit (then SIGKILL), end whatever is left of its process group and
//!   of its descendants, and start PROGRAM again. With `--idle`, TEST runs
//!   first, right before the signal: when it exits 0 (PROGRAM runs no
//!   work), PROGRAM gets IDLE_SIGNAL instead, with a grace of 2 s. The
//!   answer comes once the new process runs, on stdout with exit code 0:
//!   `old=PID ended=exit:N|signal:N[,killed] stop_ms=MS idle=yes|no|-
//!   new=PID`; any failure is one line on stderr and exit code 1; no
//!   supervisor in the container, exit code 3.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// glibc's and musl's `sigset_t` on Linux: 1024 bits.
#[repr(C)]
struct SigSet([u64; 16]);

unsafe extern "C" {
    fn sigemptyset(set: *mut SigSet) -> i32;
    fn sigfillset(set: *mut SigSet) -> i32;
    fn sigdelset(set: *mut SigSet, sig: i32) -> i32;
    fn pthread_sigmask(how: i32, set: *const SigSet, old: *mut SigSet) -> i32;
    fn sigwait(set: *const SigSet, sig: *mut i32) -> i32;
    fn kill(pid: i32, sig: i32) -> i32;
    fn waitpid(pid: i32, status: *mut i32, options: i32) -> i32;
    fn prctl(option: i32, arg2: u64, arg3: u64, arg4: u64, arg5: u64) -> i32;
    fn getpid() -> i32;
    fn isatty(fd: i32) -> i32;
    fn tcsetpgrp(fd: i32, pgrp: i32) -> i32;
}

const SIG_BLOCK: i32 = 0;
const SIG_SETMASK: i32 = 2;
const WNOHANG: i32 = 1;
const PR_SET_CHILD_SUBREAPER: i32 = 36;
const SIGKILL: i32 = 9;
const SIGTERM: i32 = 15;
const SIGCHLD: i32 = 17;
/// Signals a fault raises in this process itself: never blocked, so a bug
/// here ends it instead of hanging the container.
const SYNCHRONOUS: [i32; 7] = [4, 5, 6, 7, 8, 11, 31];
/// After SIGKILL, how long a process may take to be gone.
const KILLED_WITHIN: Duration = Duration::from_secs(10);

/// What the supervisor and its control thread share.
#[derive(Default)]
struct State {
    /// PROGRAM's process (`None` only between a restart's stop and start).
    child: Option<i32>,
    restarting: bool,
    /// A restarted child's wait status, once reaped.
    exited: Option<i32>,
    /// The idle test's process, and its exit code once reaped.
    testing: Option<i32>,
    tested: Option<i32>,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--restart") => std::process::exit(request(&args[1..])),
        Some("--stop-signal") => match (args.get(1).and_then(|s| s.parse().ok()), args.get(2)) {
            (Some(stop), Some(dash)) if dash == "--" && args.len() > 3 => {
                supervise(args[3..].to_vec(), stop)
            }
            _ => usage(),
        },
        Some("--") if args.len() > 1 => supervise(args[1..].to_vec(), SIGTERM),
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!(
        "usage: geno-init [--stop-signal N] -- PROGRAM [ARGS…] | geno-init --restart SIGNAL|stop GRACE_MS"
    );
    std::process::exit(2)
}

/// The control socket's name: abstract (no file, so a read-only root
/// filesystem is no obstacle), unique to this container by its PID
/// namespace (a sidecar shares its task's network namespace, and with it
/// the abstract names, but has a PID namespace of its own).
fn control_address() -> std::io::Result<SocketAddr> {
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    SocketAddr::from_abstract_name(format!("geno-init {ns}").as_bytes())
}

/// `--restart SIGNAL GRACE_MS [--idle IDLE_SIGNAL -- TEST…]`: the
/// supervisor's answer, as an exit code. The request is `restart` and the
/// arguments, each ended by a NUL (an argument holds no NUL).
fn request(args: &[String]) -> i32 {
    if args.len() < 2 {
        eprintln!("usage: geno-init --restart SIGNAL|stop GRACE_MS [--idle SIGNAL -- TEST…]");
        return 2;
    }
    let stream = control_address().and_then(|a| UnixStream::connect_addr(&a));
    let mut stream = match stream {
        Ok(s) => s,
        Err(e) => {
            eprintln!("no geno-init supervises this container's process ({e})");
            return 3;
        }
    };
    let mut body = b"restart\0".to_vec();
    for a in args {
        body.extend_from_slice(a.as_bytes());
        body.push(0);
    }
    let sent = stream
        .write_all(&body)
        .and_then(|_| stream.shutdown(std::net::Shutdown::Write));
    if let Err(e) = sent {
        eprintln!("geno-init did not take the request: {e}");
        return 1;
    }
    let mut answer = String::new();
    let _ = BufReader::new(stream).read_line(&mut answer);
    match answer.trim_end().strip_prefix("ok ") {
        Some(done) => {
            println!("{done}");
            0
        }
        None if answer.is_empty() => {
            eprintln!("geno-init ended before it answered");
            1
        }
        None => {
            eprintln!("{}", answer.trim_end());
            1
        }
    }
}

fn supervise(argv: Vec<String>, stop: i32) -> ! {
    // Every signal but the faults is taken by `sigwait` below, in this
    // thread; threads started later inherit the mask.
    let mut set = SigSet([0; 16]);
    unsafe {
        sigfillset(&mut set);
        for s in SYNCHRONOUS {
            sigdelset(&mut set, s);
        }
        pthread_sigmask(SIG_BLOCK, &set, std::ptr::null_mut());
        // Descendants PROGRAM leaves behind come to this process, which
        // reaps them (and ends them on a restart).
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    }
    let shared: Shared = Arc::default();
    match control_address().and_then(|a| UnixListener::bind_addr(&a)) {
        Ok(listener) => {
            let (shared, argv) = (shared.clone(), argv.clone());
            std::thread::spawn(move || serve(listener, &shared, &argv, stop));
        }
        // PROGRAM still runs; a restart falls back to the container's.
        Err(e) => eprintln!("geno-init: no control socket ({e}); restarts restart the container"),
    }
    {
        let mut state = shared.0.lock().unwrap();
        match start(&argv) {
            Ok(pid) => state.child = Some(pid),
            Err(e) => {
                eprintln!("geno-init: cannot run `{}`: {e}", argv[0]);
                std::process::exit(127)
            }
        }
    }
    loop {
        let mut sig = 0;
        if unsafe { sigwait(&set, &mut sig) } != 0 {
            continue;
        }
        if sig == SIGCHLD {
            reap(&shared);
            continue;
        }
        let state = shared.0.lock().unwrap();
        match state.child {
            Some(pid) => unsafe {
                kill(pid, sig);
            },
            // Between a restart's stop and start: the container is being
            // stopped, and there is nothing to pass the signal to.
            None => std::process::exit(128 + sig),
        }
    }
}

/// PROGRAM in a process group of its own (a restart ends the group), in
/// the foreground of the terminal when the container has one. Called with
/// the state locked, so that `reap` knows the new process before it can
/// see it exit.
fn start(argv: &[String]) -> std::io::Result<i32> {
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]).process_group(0);
    unmask(&mut command);
    let child = command.spawn()?;
    let pid = child.id() as i32;
    unsafe {
        if isatty(0) == 1 {
            tcsetpgrp(0, pid);
        }
    }
    // Reaped by `reap` (waitpid on any child), not through `child`.
    drop(child);
    Ok(pid)
}

/// The signals this process takes by `sigwait` are blocked here, and a
/// child inherits the mask: a child starts with none blocked, as it would
/// as the container's own process.
fn unmask(command: &mut Command) {
    unsafe {
        command.pre_exec(|| {
            let mut none = SigSet([0; 16]);
            sigemptyset(&mut none);
            pthread_sigmask(SIG_SETMASK, &none, std::ptr::null_mut());
            Ok(())
        });
    }
}

/// Every exited child reaped: PROGRAM's exit ends this process, unless a
/// restart stopped it; the idle test's is kept for the restart; any other
/// is a descendant PROGRAM left behind.
fn reap(shared: &Shared) {
    loop {
        let mut status = 0;
        let pid = unsafe { waitpid(-1, &mut status, WNOHANG) };
        if pid <= 0 {
            return;
        }
        let (lock, cv) = &**shared;
        let mut state = lock.lock().unwrap();
        if state.testing == Some(pid) {
            state.tested = Some(exit_code(status));
        } else if state.child == Some(pid) {
            if !state.restarting {
                std::process::exit(exit_code(status));
            }
            state.child = None;
            state.exited = Some(status);
        }
        cv.notify_all();
    }
}

/// The code a shell would report for a wait status.
fn exit_code(status: i32) -> i32 {
    let signal = status & 0x7f;
    if signal == 0 {
        (status >> 8) & 0xff
    } else {
        128 + signal
    }
}

/// `exit:N` or `signal:N`.
fn how(status: i32) -> String {
    match status & 0x7f {
        0 => format!("exit:{}", (status >> 8) & 0xff),
        s => format!("signal:{s}"),
    }
}

/// The control socket: one request per connection, read to its end.
fn serve(listener: UnixListener, shared: &Shared, argv: &[String], stop: i32) {
    for stream in listener.incoming().flatten() {
        let mut body = Vec::new();
        if (&stream).read_to_end(&mut body).is_err() {
            continue;
        }
        let fields: Vec<String> = body
            .split(|b| *b == 0)
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
        let answer = match Request::read(&fields, stop) {
            Some(r) => restart(shared, argv, &r),
            None => Err(format!("cannot read the request {fields:?}")),
        };
        let mut stream = &stream;
        let _ = match answer {
            Ok(done) => writeln!(stream, "ok {done}"),
            Err(why) => writeln!(stream, "geno-init: {why}"),
        };
    }
}

/// One restart, as `--restart` asked for it.
struct Request {
    signal: i32,
    grace: Duration,
    /// When TEST exits 0 (PROGRAM runs no work), PROGRAM gets this signal
    /// instead, and SIGKILL if it has not ended within `IDLE_GRACE`.
    idle: Option<(i32, Vec<String>)>,
}

/// How long an idle PROGRAM may take to end on its idle signal.
const IDLE_GRACE: Duration = Duration::from_secs(2);
/// How long TEST may take; a slower one counts as "not idle".
const TEST_AT_MOST: Duration = Duration::from_secs(5);

impl Request {
    /// `restart SIGNAL|stop GRACE_MS [--idle SIGNAL -- TEST…]` (and the
    /// empty field after the last NUL).
    fn read(fields: &[String], stop: i32) -> Option<Request> {
        let fields = fields.strip_suffix(&[String::new()]).unwrap_or(fields);
        let [verb, signal, grace, rest @ ..] = fields else {
            return None;
        };
        if verb != "restart" {
            return None;
        }
        let signal = if signal == "stop" { stop } else { signal.parse().ok()? };
        let grace = Duration::from_millis(grace.parse().ok()?);
        let idle = match rest {
            [] => None,
            [flag, idle, dash, test @ ..]
                if flag == "--idle" && dash == "--" && !test.is_empty() =>
            {
                Some((idle.parse().ok()?, test.to_vec()))
            }
            _ => return None,
        };
        Some(Request { signal, grace, idle })
    }
}

/// Runs TEST, a child of this process that `reap` collects, leaving its
/// exit code in `State::tested`: whether it exited 0 in time.
fn idle_now(shared: &Shared, test: &[String]) -> Result<bool, String> {
    let (lock, cv) = &**shared;
    let mut state = lock.lock().unwrap();
    let mut command = Command::new(&test[0]);
    command.args(&test[1..]);
    unmask(&mut command);
    let pid = command
        .spawn()
        .map_err(|e| format!("cannot run the idle test `{}`: {e}", test[0]))?
        .id() as i32;
    state.testing = Some(pid);
    state.tested = None;
    let (mut state, waited) = cv
        .wait_timeout_while(state, TEST_AT_MOST, |s| s.tested.is_none())
        .unwrap();
    state.testing = None;
    if waited.timed_out() {
        unsafe {
            kill(pid, SIGKILL);
        }
        return Ok(false);
    }
    Ok(state.tested.take() == Some(0))
}

/// Stops PROGRAM (SIGKILL after the grace period), ends what it left, and
/// starts it again. Answers `old=PID ended=HOW stop_ms=MS idle=yes|no|-
/// new=PID`.
fn restart(shared: &Shared, argv: &[String], r: &Request) -> Result<String, String> {
    let (lock, cv) = &**shared;
    let began = Instant::now();
    {
        let mut state = lock.lock().unwrap();
        if state.restarting {
            return Err("a restart is already under way".into());
        }
        if state.child.is_none() {
            return Err("no process runs".into());
        }
        state.restarting = true;
        state.exited = None;
    }
    let done = stop_and_start(shared, argv, r, began);
    let mut state = lock.lock().unwrap();
    state.restarting = false;
    // Ended on its own while it was being restarted, with nothing new
    // started: the container ends as it would have.
    if state.child.is_none() {
        if let Some(status) = state.exited {
            std::process::exit(exit_code(status));
        }
    }
    cv.notify_all();
    done
}

fn stop_and_start(
    shared: &Shared,
    argv: &[String],
    r: &Request,
    began: Instant,
) -> Result<String, String> {
    let (lock, cv) = &**shared;
    // The test right before the signal: a task that starts in between is
    // the only one a restart at once could cut short.
    let idle = match &r.idle {
        Some((_, test)) => Some(idle_now(shared, test)?),
        None => None,
    };
    let (signal, grace) = match (&r.idle, idle) {
        (Some((signal, _)), Some(true)) => (*signal, IDLE_GRACE),
        _ => (r.signal, r.grace),
    };
    let mut state = lock.lock().unwrap();
    let Some(old) = state.child else {
        return Err("the process ended before it was restarted".into());
    };
    unsafe {
        kill(old, signal);
    }
    state = cv
        .wait_timeout_while(state, grace, |s| s.exited.is_none())
        .unwrap()
        .0;
    let killed = state.exited.is_none();
    if killed {
        unsafe {
            kill(-old, SIGKILL);
            kill(old, SIGKILL);
        }
        state = cv
            .wait_timeout_while(state, KILLED_WITHIN, |s| s.exited.is_none())
            .unwrap()
            .0;
    }
    let Some(status) = state.exited else {
        return Err(format!("process {old} did not end, even after SIGKILL"));
    };
    drop(state);
    let stopped_ms = began.elapsed().as_millis();
    // What the old process left: its group, and descendants that left the
    // group (they came to this process as their subreaper). A container
    // restart would have ended them all.
    unsafe {
        kill(-old, SIGKILL);
    }
    let deadline = Instant::now() + KILLED_WITHIN;
    loop {
        let left = descendants();
        if left.is_empty() || Instant::now() > deadline {
            break;
        }
        for pid in left {
            unsafe {
                kill(pid, SIGKILL);
            }
        }
        // `reap`, in the main thread, collects them.
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut state = lock.lock().unwrap();
    match start(argv) {
        Ok(new) => {
            state.child = Some(new);
            state.exited = None;
            Ok(format!(
                "old={old} ended={}{} stop_ms={stopped_ms} idle={} new={new}",
                how(status),
                if killed { ",killed" } else { "" },
                match idle {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "-",
                }
            ))
        }
        Err(e) => {
            eprintln!("geno-init: cannot run `{}` again: {e}", argv[0]);
            std::process::exit(127)
        }
    }
}

/// This process's children, from /proc (the supervisor has no other
/// children than PROGRAM and what PROGRAM left behind).
fn descendants() -> Vec<i32> {
    let me = unsafe { getpid() };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    // `pid (comm) state ppid …`; comm may hold spaces.
                    let rest = &s[s.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<i32>().ok()
                })
                == Some(me)
        })
        .collect()
}
