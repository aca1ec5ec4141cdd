//! `crust service install|uninstall|status`: `crust start` kept running by the user's service
//! manager, a systemd user unit on Linux and a launchd agent on macOS, started at login and
//! restarted when it fails.

use super::Exit;
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(clap::Args, Debug, Clone)]
pub struct ServiceArgs {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand, Debug, Clone)]
pub enum Action {
    /// Write the unit (or agent) and start it now and at every login.
    Install(InstallArgs),
    /// Stop it and remove the unit (or agent).
    Uninstall(ManagerArgs),
    /// What the service manager says, then `crust status`.
    Status(ManagerArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct InstallArgs {
    /// The `crust` executable the service runs (default: this one).
    #[arg(long)]
    pub crust: Option<PathBuf>,
    /// Write the unit and print what would run, without starting it.
    #[arg(long)]
    pub no_start: bool,
    #[command(flatten)]
    pub manager: ManagerArgs,
    /// Arguments for `crust start` (after `--`), e.g. `-- --listen 127.0.0.1:9191`.
    #[arg(last = true)]
    pub start_args: Vec<String>,
}

#[derive(clap::Args, Debug, Clone)]
pub struct ManagerArgs {
    /// Which service manager to write for (default: launchd on macOS, systemd elsewhere).
    #[arg(long, value_parser = ["systemd", "launchd"])]
    pub manager: Option<String>,
}

/// The unit's name (systemd) and the agent's label (launchd).
const UNIT: &str = "crust.service";
const LABEL: &str = "dev.crust.proxy";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Manager {
    Systemd,
    Launchd,
}

impl Manager {
    fn pick(a: &ManagerArgs) -> Manager {
        match a.manager.as_deref() {
            Some("launchd") => Manager::Launchd,
            Some(_) => Manager::Systemd,
            None if cfg!(target_os = "macos") => Manager::Launchd,
            None => Manager::Systemd,
        }
    }

    fn file(self, home: &Path) -> PathBuf {
        match self {
            Manager::Systemd => std::env::var_os("XDG_CONFIG_HOME")
                .filter(|v| !v.is_empty())
                .map_or_else(|| home.join(".config"), PathBuf::from)
                .join("systemd/user")
                .join(UNIT),
            Manager::Launchd => home
                .join("Library/LaunchAgents")
                .join(format!("{LABEL}.plist")),
        }
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

pub fn service(args: ServiceArgs) -> Exit {
    match args.action {
        Action::Install(a) => install(&a),
        Action::Uninstall(m) => uninstall(Manager::pick(&m)),
        Action::Status(m) => status(Manager::pick(&m)),
    }
}

/// The systemd user unit.
fn systemd_unit(crust: &str, start_args: &[String], home: &Path) -> String {
    let exec: Vec<String> = std::iter::once(crust.to_owned())
        .chain(std::iter::once("start".to_owned()))
        .chain(start_args.iter().cloned())
        .map(|a| systemd_quote(&a))
        .collect();
    format!(
        "# Written by `crust service install`; `crust service uninstall` removes it.\n\
         [Unit]\n\
         Description=Crust: a security gateway for AI agents' tool calls\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={}\n\
         Environment=HOME={}\n\
         Restart=on-failure\n\
         RestartSec=2\n\
         # SIGTERM lets in-flight requests finish and seals the audit log.\n\
         KillSignal=SIGTERM\n\
         TimeoutStopSec=40\n\
         \n\
         [Install]\n\
         WantedBy=default.target\n",
        exec.join(" "),
        systemd_quote(&home.display().to_string()),
    )
}

/// A word for a systemd command line: quoted when it holds spaces, quotes or specifiers.
fn systemd_quote(s: &str) -> String {
    let escaped = s.replace('%', "%%");
    if escaped.is_empty()
        || escaped
            .chars()
            .any(|c| c.is_whitespace() || "\"'\\;$".contains(c))
    {
        format!(
            "\"{}\"",
            escaped
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('$', "$$")
        )
    } else {
        escaped
    }
}

/// The launchd agent.
fn launchd_plist(crust: &str, start_args: &[String], home: &Path) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let args: String = std::iter::once(crust.to_owned())
        .chain(std::iter::once("start".to_owned()))
        .chain(start_args.iter().cloned())
        .map(|a| format!("    <string>{}</string>\n", esc(&a)))
        .collect();
    let log = home.join(".local/share/crust/crust.log");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
         <!-- Written by `crust service install`; `crust service uninstall` removes it. -->\n\
         <plist version=\"1.0\">\n\
         <dict>\n\
         \x20 <key>Label</key>\n\
         \x20 <string>{LABEL}</string>\n\
         \x20 <key>ProgramArguments</key>\n\
         \x20 <array>\n\
         {args}\
         \x20 </array>\n\
         \x20 <key>RunAtLoad</key>\n\
         \x20 <true/>\n\
         \x20 <key>KeepAlive</key>\n\
         \x20 <dict>\n\
         \x20   <key>SuccessfulExit</key>\n\
         \x20   <false/>\n\
         \x20 </dict>\n\
         \x20 <key>ThrottleInterval</key>\n\
         \x20 <integer>2</integer>\n\
         \x20 <key>StandardErrorPath</key>\n\
         \x20 <string>{}</string>\n\
         </dict>\n\
         </plist>\n",
        esc(&log.display().to_string()),
    )
}

/// Runs a service-manager command; `Err` with what it said when it fails or is missing.
fn run(cmd: &str, args: &[&str]) -> Result<String, String> {
    match Command::new(cmd).args(args).output() {
        Err(e) => Err(format!("cannot run `{cmd}`: {e}")),
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_owned()),
        Ok(o) => Err(format!(
            "`{cmd} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr).trim()
        )),
    }
}

fn uid() -> String {
    run("id", &["-u"]).unwrap_or_else(|_| "0".into())
}

fn install(a: &InstallArgs) -> Exit {
    let home = home();
    let manager = Manager::pick(&a.manager);
    let crust = match &a.crust {
        Some(p) => p.clone(),
        None => match std::env::current_exe() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: cannot find the crust executable ({e}); give --crust PATH");
                return Exit::Usage;
            }
        },
    };
    let crust = std::fs::canonicalize(&crust)
        .unwrap_or(crust)
        .display()
        .to_string();
    let text = match manager {
        Manager::Systemd => systemd_unit(&crust, &a.start_args, &home),
        Manager::Launchd => launchd_plist(&crust, &a.start_args, &home),
    };
    let file = manager.file(&home);
    if let Some(dir) = file.parent() {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("error: cannot create `{}`: {e}", dir.display());
            return Exit::Usage;
        }
    }
    if let Err(e) = std::fs::write(&file, &text) {
        eprintln!("error: cannot write `{}`: {e}", file.display());
        return Exit::Usage;
    }
    println!("wrote {}", file.display());
    if a.no_start {
        println!("not started (--no-start)");
        return Exit::Ok;
    }
    let started = match manager {
        Manager::Systemd => run("systemctl", &["--user", "daemon-reload"])
            .and_then(|_| run("systemctl", &["--user", "enable", "--now", UNIT])),
        Manager::Launchd => {
            let domain = format!("gui/{}", uid());
            // A loaded agent of an earlier install is replaced.
            let _ = run("launchctl", &["bootout", &format!("{domain}/{LABEL}")]);
            run(
                "launchctl",
                &["bootstrap", &domain, &file.display().to_string()],
            )
        }
    };
    match started {
        Ok(_) => {
            println!("started; it starts again at every login (`crust status` shows it)");
            Exit::Ok
        }
        Err(why) => {
            eprintln!(
                "error: the service is installed but could not be started: {why}\n\
                 (no user service manager here? run `crust start` in a terminal instead)"
            );
            Exit::Policy
        }
    }
}

fn uninstall(manager: Manager) -> Exit {
    let home = home();
    let file = manager.file(&home);
    let stopped = match manager {
        Manager::Systemd => run("systemctl", &["--user", "disable", "--now", UNIT]),
        Manager::Launchd => run("launchctl", &["bootout", &format!("gui/{}/{LABEL}", uid())]),
    };
    if let Err(why) = &stopped {
        eprintln!("note: {why}");
    }
    match std::fs::remove_file(&file) {
        Ok(()) => println!("removed {}", file.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("not installed ({} does not exist)", file.display());
        }
        Err(e) => {
            eprintln!("error: cannot remove `{}`: {e}", file.display());
            return Exit::Usage;
        }
    }
    if manager == Manager::Systemd {
        let _ = run("systemctl", &["--user", "daemon-reload"]);
    }
    Exit::Ok
}

fn status(manager: Manager) -> Exit {
    let home = home();
    let file = manager.file(&home);
    if file.exists() {
        println!("service: installed ({})", file.display());
        let state = match manager {
            Manager::Systemd => run("systemctl", &["--user", "is-active", UNIT]),
            Manager::Launchd => run("launchctl", &["print", &format!("gui/{}/{LABEL}", uid())])
                .map(|o| {
                    o.lines()
                        .find(|l| l.trim_start().starts_with("state ="))
                        .map_or_else(|| "loaded".to_owned(), |l| l.trim().to_owned())
                }),
        };
        match state {
            Ok(s) => println!("service manager: {s}"),
            Err(why) => println!("service manager: unknown ({why})"),
        }
    } else {
        println!("service: not installed (`crust service install` installs it)");
    }
    super::status::status(super::status::StatusArgs { json: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unit_quotes_what_systemd_would_split_or_expand() {
        let u = systemd_unit(
            "/opt/my tools/crust",
            &["--listen".into(), "127.0.0.1:9191".into()],
            Path::new("/home/a b"),
        );
        assert!(u.contains("ExecStart=\"/opt/my tools/crust\" start --listen 127.0.0.1:9191\n"));
        assert!(u.contains("Environment=HOME=\"/home/a b\"\n"));
        assert_eq!(systemd_quote("50%"), "50%%");
        assert_eq!(systemd_quote("$HOME"), "\"$$HOME\"");
    }

    #[test]
    fn the_plist_escapes_xml() {
        let p = launchd_plist("/Applications/A&B/crust", &[], Path::new("/Users/u"));
        assert!(p.contains("<string>/Applications/A&amp;B/crust</string>"));
        assert!(p.contains("<string>start</string>"));
        assert!(p.contains("<string>/Users/u/.local/share/crust/crust.log</string>"));
    }
}
