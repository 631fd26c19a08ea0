//! Command-line arguments, and running one command: the `Context` built
//! from them, the verb run under the Ctrl-C guard, its failure reported.
//!
//! Parsing stays here; each verb's work lives in `ops`, so a command is a
//! few lines that turn arguments into an `ops` call.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand as ClapSubcommand};

use crate::context::{Context, Settings};
use crate::error::CliResult;
use crate::ops::{self, OnInterrupt, Verb};
use crate::shell::{Shell, Verbosity};

/// `geno --version`: the package version and the git revision built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("GENO_GIT_REV"), ")");

#[derive(Debug, Parser)]
#[command(
    name = "geno",
    version = VERSION,
    about = "One stack.yaml for the local Docker stack and its ECS Fargate deployment",
    propagate_version = true
)]
pub struct Arguments {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The stack definition, `-f` for short (default: stack.yaml here or in
    /// the nearest parent directory that has one). After `logs`, `-f` follows.
    #[arg(long = "file", global = true, env = "GENO_FILE", value_name = "PATH")]
    pub file: Option<PathBuf>,
    /// Variables for interpolation (default: `.env` beside stack.yaml, if any).
    #[arg(long, global = true, value_name = "PATH")]
    pub env_file: Option<PathBuf>,
    /// More logging: -v info, -vv debug, -vvv trace (or set GENO_LOG).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// Print data as JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Also run the services of this profile (repeatable; or GENO_PROFILES=a,b).
    #[arg(
        long = "profile",
        global = true,
        value_name = "NAME",
        env = "GENO_PROFILES",
        value_delimiter = ','
    )]
    pub profiles: Vec<String>,
}

/// Declares the verbs: the `Command` enum clap parses (each variant's doc
/// comment and attributes are its `--help`), and its dispatch to each
/// verb's `Verb` impl. Adding a verb is one entry here and its module.
macro_rules! verbs {
    ($( $(#[$attr:meta])* $variant:ident($args:ty), )+) => {
        #[derive(Debug, ClapSubcommand)]
        pub enum Command {
            $( $(#[$attr])* $variant($args), )+
        }

        impl Command {
            /// How the first Ctrl-C treats the verb.
            pub fn on_interrupt(&self) -> OnInterrupt {
                match self {
                    $( Command::$variant(args) => args.on_interrupt(), )+
                }
            }

            pub async fn execute(self, ctx: &Context) -> CliResult {
                // Each verb's future on the heap: the one `run` awaits stays
                // small, and rustc need not lay out every verb's state
                // machine inside one (a fresh build overflowed its depth
                // limit doing so).
                match self {
                    $( Command::$variant(args) => Box::pin(args.exec(ctx)).await, )+
                }
            }
        }
    };
}

verbs! {
    /// Check stack.yaml for every environment and list all problems.
    #[command(
        after_help = "Examples:\n  geno validate\n  geno validate -f other/stack.yaml --json"
    )]
    Validate(ops::validate::Args),
    /// Print the fully resolved stack (interpolated, defaults applied, secrets redacted).
    #[command(after_help = "Examples:\n  geno config\n  geno config --env demo --json")]
    Config(ops::config::Args),
    /// Print what ECS gets for an environment: task definitions, service updates, target groups.
    #[command(
        after_help = "Examples:\n  geno render --env demo\n  geno render --env prod --format tfvars > infra/environments/prod.tfvars.json"
    )]
    Render(ops::render::Args),
    /// Print the JSON Schema of stack.yaml.
    #[command(after_help = "Example:\n  geno schema > schema/stack.schema.json")]
    Schema(ops::schema::Args),
    /// Build the image and bring the stack up locally, in dependency order, until healthy.
    ///
    /// With services named, only they and what they depend on are brought
    /// up; nothing else is touched.
    #[command(
        after_help = "Examples:\n  geno up\n  geno up api --watch\n  geno --profile tools up --fast-health"
    )]
    Up(ops::up::Args),
    /// Run the stack's smoke tests through its load balancer.
    #[command(after_help = "Examples:\n  geno smoke --junit smoke.xml\n  geno smoke --env demo")]
    Smoke(ops::smoke::Args),
    /// Serve the stack's load balancer (started by `geno up`).
    #[command(hide = true)]
    Lb(ops::lb::Args),
    /// Supervise the stack's tasks with sidecars (started by `geno up`).
    #[command(hide = true)]
    Tasks(ops::tasks::Args),
    /// Act on file changes in a running stack by its `develop.watch` rules.
    ///
    /// Files are copied into every replica, then the rule's action: restart
    /// in place until ready (the load balancer drains each replica), exec a
    /// command, or rebuild the image and replace the services on it.
    /// Ctrl-C stops watching and leaves the stack running.
    #[command(after_help = "Example:\n  geno watch")]
    Watch(ops::watch::Args),
    /// Stop and remove the stack's containers and network (volumes with --volumes).
    #[command(after_help = "Examples:\n  geno down\n  geno down --volumes")]
    Down(ops::down::Args),
    /// Restart services in place, one replica at a time, each until ready.
    ///
    /// A load-balanced replica is drained first and the next one goes only
    /// once the load balancer has it healthy again.
    #[command(after_help = "Examples:\n  geno restart api\n  geno restart")]
    Restart(ops::restart::Args),
    /// Stop services, keeping their containers for `geno start`.
    #[command(after_help = "Example:\n  geno stop celery")]
    Stop(ops::stop::Args),
    /// Start stopped services (and the stopped services they depend on), until ready.
    #[command(after_help = "Example:\n  geno start celery")]
    Start(ops::start::Args),
    /// List the stack's containers: state, readiness, health, ports, image, uptime.
    ///
    /// With --env: each ECS service's tasks, deployments, the image it runs
    /// and whether a verified promotion put it there, target health and
    /// recent events.
    #[command(after_help = "Examples:\n  geno ps\n  geno ps --env demo api")]
    Ps(ops::ps::Args),
    /// Live figures per service: requests and 5xx a second, p50/p99, CPU, memory.
    ///
    /// Requests, 5xx answers and response times are what the local load
    /// balancer counted for the service's target groups (percentiles are
    /// bucket bounds: at most twice the true value); CPU and memory are
    /// the engine's, summed over the service's containers.
    #[command(after_help = "Examples:
  geno top
  geno top api --interval 5s
  geno top --once --json")]
    Top(ops::top::Args),
    /// Show service logs, each line prefixed with its container.
    ///
    /// With --env: CloudWatch Logs of the services' (and jobs') tasks,
    /// interleaved by time and prefixed with service and task; -f follows
    /// across task replacements.
    #[command(
        after_help = "Examples:\n  geno logs -f api\n  geno logs --env demo celery --since 1h --grep ERROR\n  geno logs --env demo -f"
    )]
    Logs(ops::logs::Args),
    /// Run a command in a running container of a service.
    ///
    /// With --env: ECS Exec into a running task of the service, through
    /// AWS's session-manager-plugin (which must be installed). ECS Exec
    /// does not carry the remote command's exit code; the exit code is the
    /// session's.
    #[command(
        after_help = "Examples:\n  geno exec api -- python -m genonaut.healthcheck\n  geno exec --env demo api -- /bin/sh\n  geno exec --env demo api --task 3f2a -- env"
    )]
    Exec(ops::exec::Args),
    /// Run a one-off container of a service, removed afterwards.
    ///
    /// With --env: a one-off Fargate task from the service's live task
    /// definition with the command replaced, in the service's network; its
    /// logs stream until it stops, and the exit code is the container's.
    /// Ctrl-C stops the task.
    #[command(
        after_help = "Examples:\n  geno run api -- python -m genonaut.migrate\n  geno run --env demo api -- python -m genonaut.migrate"
    )]
    Run(ops::run::Args),
    /// Push the image that passed `geno smoke` to an ECS environment and roll it out.
    ///
    /// Preflight (identity, cluster, services, repositories, secrets, roles),
    /// push tagged with the image ID and git revision, manifest digest
    /// checked against the verified image ID, task definitions pinned by
    /// digest, services updated and watched; on failure every service goes
    /// back to its previous task definition. Recorded under .geno/.
    #[command(
        after_help = "Examples:\n  geno promote --env demo --dry-run\n  geno promote --env demo --smoke"
    )]
    Promote(ops::promote::Args),
    /// Show what `geno promote` would change: rendered vs live task definitions.
    #[command(after_help = "Examples:\n  geno diff --env demo\n  geno diff --env prod --exit-code")]
    Diff(ops::diff::Args),
    /// List the promotions and rollbacks on record for an environment.
    #[command(after_help = "Example:\n  geno history --env demo")]
    History(ops::history::Args),
    /// Set the desired task count of deployed services, watched until stable.
    ///
    /// Recorded in `geno history`; put back if the services do not settle.
    /// stack.yaml's `desired_count` stays what the next promotion applies.
    #[command(after_help = "Example:\n  geno scale --env demo api=4 celery=2")]
    Scale(ops::scale::Args),
    /// The secrets stack.yaml declares for a deployed environment: list, set, remove.
    ///
    /// Values are never printed: `ls` shows where each lives, whether it
    /// exists, its type and last change; `set` reads the value from stdin
    /// or a prompt that does not echo.
    #[command(
        after_help = "Examples:\n  geno secrets --env demo ls\n  geno secrets --env demo set DATABASE_URL\n  printf %s \"$URL\" | geno secrets --env demo set DATABASE_URL\n  geno secrets --env demo rm REDIS_URL"
    )]
    Secrets(ops::secrets::Args),
    /// Write a stack.yaml from a compose file or live ECS services; list what it cannot carry.
    ///
    /// Services built from the same context become the stack's one image
    /// with command overrides; services that run an image become local
    /// backing services; depends_on conditions, health checks, profiles,
    /// volumes, ports and develop.watch carry over; interpolation stays
    /// interpolation. Each item not carried is listed with its line.
    #[command(
        after_help = "Examples:\n  geno init --from-compose docker-compose.yml\n  geno init --from-compose compose.yaml --out stack.yaml --force\n  geno init --from-ecs --env demo --cluster genonaut-demo --region us-east-1"
    )]
    Init(ops::init::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    ///
    /// Service and environment names come from the stack file found now;
    /// run it again after adding one.
    #[command(
        after_help = "Examples:\n  geno completions bash > ~/.local/share/bash-completion/completions/geno\n  geno completions zsh > \"${fpath[1]}/_geno\"\n  geno completions fish > ~/.config/fish/completions/geno.fish"
    )]
    Completions(CompletionsArgs),
    /// Return an environment to the task definitions of an earlier promotion.
    #[command(
        after_help = "Examples:\n  geno rollback --env demo\n  geno rollback --env demo --to 2026-11-30T101500.000Z"
    )]
    Rollback(ops::rollback::Args),
}

/// `geno completions`: here beside the command line it completes.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

impl Verb for CompletionsArgs {
    fn on_interrupt(&self) -> OnInterrupt {
        OnInterrupt::Exit
    }

    async fn exec(self, ctx: &Context) -> CliResult {
        let (services, envs) = ops::completions::names(ctx);
        let mut cmd = completion_command(&services, &envs);
        let mut script = Vec::new();
        clap_complete::generate(self.shell, &mut cmd, "geno", &mut script);
        ctx.shell.out_text(&String::from_utf8_lossy(&script))?;
        Ok(())
    }
}

/// The command line for completions, with the stack's service and
/// environment names as the values of the arguments that take them.
fn completion_command(services: &[String], envs: &[String]) -> clap::Command {
    use clap::CommandFactory;
    let mut cmd = Arguments::command();
    let names = |v: &[String]| {
        clap::builder::PossibleValuesParser::new(
            v.iter()
                .map(|s| clap::builder::PossibleValue::new(s.clone())),
        )
    };
    let verbs: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for verb in verbs {
        // `mut_args` changes each in place (`mut_arg` would move a
        // positional after the others).
        cmd = cmd.mut_subcommand(&verb, |sub| {
            sub.mut_args(|a| match a.get_id().as_str() {
                "services" | "service" if !services.is_empty() => a.value_parser(names(services)),
                "env" if !envs.is_empty() => a.value_parser(names(envs)),
                _ => a,
            })
        });
    }
    cmd
}

/// The command line as clap takes it: `-f` is `--file` anywhere on the
/// line, before or after the verb, except after `logs`, where `-f` follows
/// (as in `docker compose logs -f`), and except inside the command a
/// `run`/`exec` passes on. clap cannot give one short flag a meaning at the
/// top and another in one subcommand, so it sees `--file` instead.
pub fn normalize(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    /// Global flags that take a value (the value is not the verb).
    const VALUED: [&str; 7] = [
        "-f",
        "--file",
        "--env-file",
        "--profile",
        "--env",
        "--task",
        "--index",
    ];
    let mut out = Vec::new();
    let mut verb: Option<String> = None;
    let mut takes_value = false;
    let mut done = false;
    for (i, arg) in args.into_iter().enumerate() {
        let text = arg.to_str().map(str::to_string);
        if i == 0 || done || text.is_none() {
            out.push(arg);
            continue;
        }
        let text = text.unwrap_or_default();
        if text == "--" {
            done = true;
            out.push(arg);
            continue;
        }
        if takes_value {
            takes_value = false;
            out.push(arg);
            continue;
        }
        if !text.starts_with('-') {
            match &verb {
                None => verb = Some(text.clone()),
                // What follows a run's or exec's service is its command.
                Some(v) if matches!(v.as_str(), "run" | "exec") => done = true,
                Some(_) => {}
            }
            out.push(arg);
            continue;
        }
        let in_logs = verb.as_deref() == Some("logs");
        if text == "-f" && !in_logs {
            out.push("--file".into());
            takes_value = true;
            continue;
        }
        if let Some(value) = text
            .strip_prefix("-f")
            .filter(|v| !v.is_empty() && !in_logs)
        {
            let value = value.strip_prefix('=').unwrap_or(value);
            out.push(format!("--file={value}").into());
            continue;
        }
        takes_value = VALUED.contains(&text.as_str()) && !(in_logs && text == "-f");
        out.push(arg);
    }
    out
}

impl Arguments {
    /// Runs the command to its end and reports how it ended; the exit code.
    /// Whether this is `geno lb`, the load balancer process.
    pub fn serves_load_balancer(&self) -> bool {
        matches!(self.command, Command::Lb { .. })
    }

    pub async fn run(self) -> i32 {
        crate::logging::init(self.global.verbose);
        let verbosity = if self.global.verbose > 0 {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        };
        let file = match self.global.file {
            Some(f) => f,
            None => crate::context::find_stack_file(),
        };
        if self.global.verbose > 0 {
            eprintln!("geno: using {}", file.display());
        }
        let ctx = Context::new(
            Settings {
                file,
                verbose: self.global.verbose,
                env_file: self.global.env_file,
                vars: std::env::vars().collect(),
                profiles: self
                    .global
                    .profiles
                    .into_iter()
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty())
                    .collect(),
            },
            Shell::new(verbosity, self.global.json),
        );
        let graceful = match self.command.on_interrupt() {
            OnInterrupt::Finish(verb) => Some(verb),
            OnInterrupt::Exit => None,
        };
        let work = self.command.execute(&ctx);
        match crate::shutdown::guard(work, &ctx.cancel, graceful, &ctx.shell).await {
            Ok(()) => 0,
            Err(failure) => crate::error::report(&failure, &ctx.shell),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{completion_command, normalize};

    #[test]
    fn the_command_line_and_its_completion_form_are_well_formed() {
        use clap::CommandFactory;
        super::Arguments::command().debug_assert();
        completion_command(&["api".into()], &["demo".into()]).debug_assert();
    }

    /// Every verb, parsed from a minimal command line, and how the first
    /// Ctrl-C treats it: a verb added without a line here fails the test.
    #[test]
    fn every_verb_parses_and_says_how_ctrl_c_treats_it() {
        use super::{Arguments, OnInterrupt};
        use clap::{CommandFactory, Parser};
        let finish = |verb| OnInterrupt::Finish(verb);
        let table: &[(&str, OnInterrupt)] = &[
            ("validate", OnInterrupt::Exit),
            ("config", OnInterrupt::Exit),
            ("render --env demo", OnInterrupt::Exit),
            ("schema", OnInterrupt::Exit),
            ("up", finish("geno up")),
            ("smoke", finish("geno smoke")),
            ("lb", finish("geno lb")),
            ("tasks", finish("geno tasks")),
            ("watch", finish("geno watch")),
            ("down", OnInterrupt::Exit),
            ("restart", finish("geno restart")),
            ("stop", OnInterrupt::Exit),
            ("start", finish("geno start")),
            ("ps", OnInterrupt::Exit),
            ("top --once", finish("geno top")),
            ("logs", finish("geno logs")),
            ("exec api -- ls", OnInterrupt::Exit),
            ("run api", finish("geno run")),
            ("promote --env demo", finish("geno promote")),
            ("diff --env demo", OnInterrupt::Exit),
            ("history --env demo", OnInterrupt::Exit),
            ("scale --env demo api=2", finish("geno scale")),
            ("secrets --env demo ls", OnInterrupt::Exit),
            ("init --from-compose compose.yaml", OnInterrupt::Exit),
            ("completions bash", OnInterrupt::Exit),
            ("rollback --env demo", finish("geno rollback")),
        ];
        let verbs: Vec<String> = Arguments::command()
            .get_subcommands()
            .map(|c| c.get_name().to_string())
            .collect();
        for verb in &verbs {
            let line = table
                .iter()
                .find(|(l, _)| l.split(' ').next() == Some(verb.as_str()));
            let Some((line, wanted)) = line else {
                panic!("`geno {verb}` has no line in this table: how does Ctrl-C treat it?")
            };
            let args = Arguments::try_parse_from(std::iter::once("geno").chain(line.split(' ')))
                .unwrap_or_else(|e| panic!("`geno {line}`: {e}"));
            assert_eq!(args.command.on_interrupt(), *wanted, "geno {line}");
        }
        assert_eq!(verbs.len(), table.len(), "a line for a verb that is gone");
    }

    fn norm(line: &str) -> String {
        let args = std::iter::once("geno")
            .chain(line.split(' '))
            .map(std::ffi::OsString::from);
        normalize(args)
            .into_iter()
            .skip(1)
            .map(|a| a.into_string().unwrap())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn dash_f_is_the_file_anywhere_but_after_logs_and_inside_a_command() {
        assert_eq!(norm("-f a.yaml up"), "--file a.yaml up");
        assert_eq!(norm("validate -f a.yaml"), "validate --file a.yaml");
        assert_eq!(norm("validate -fa.yaml"), "validate --file=a.yaml");
        assert_eq!(
            norm("render --env demo -f=a.yaml"),
            "render --env demo --file=a.yaml"
        );
        assert_eq!(norm("logs -f api"), "logs -f api");
        assert_eq!(norm("-f a.yaml logs -f"), "--file a.yaml logs -f");
        assert_eq!(
            norm("--profile logs up -f b.yaml"),
            "--profile logs up --file b.yaml"
        );
        assert_eq!(norm("run api tail -f x"), "run api tail -f x");
        assert_eq!(
            norm("exec --env demo api -- tail -f x"),
            "exec --env demo api -- tail -f x"
        );
        assert_eq!(
            norm("run -f s.yaml api -- ls"),
            "run --file s.yaml api -- ls"
        );
    }
}
