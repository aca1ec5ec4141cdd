//! `crust service` on a fake home directory: the unit (or agent) written, reported and removed.
//! Starting it needs a user service manager, which test machines do not have: an install
//! that cannot start says so and exits 1, leaving the unit for the next login.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn home(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crust-service-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn crust(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crust"))
        .args(args)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .output()
        .unwrap()
}

#[test]
fn install_status_uninstall_of_the_systemd_unit() {
    let h = home("systemd");
    let o = crust(
        &h,
        &[
            "service",
            "install",
            "--manager",
            "systemd",
            "--no-start",
            "--",
            "--listen",
            "127.0.0.1:9191",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let unit = h.join(".config/systemd/user/crust.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_crust")).unwrap();
    assert!(
        text.contains(&format!(
            "ExecStart={} start --listen 127.0.0.1:9191\n",
            exe.display()
        )),
        "{text}"
    );
    assert!(text.contains("Restart=on-failure") && text.contains("WantedBy=default.target"));
    let s = crust(&h, &["service", "status", "--manager", "systemd"]);
    let out = String::from_utf8_lossy(&s.stdout);
    assert!(out.contains("service: installed"), "{out}");
    assert!(out.contains("proxy: not running"), "{out}");
    assert_eq!(s.status.code(), Some(3));
    let u = crust(&h, &["service", "uninstall", "--manager", "systemd"]);
    assert_eq!(u.status.code(), Some(0));
    assert!(!unit.exists());
    let again = crust(&h, &["service", "uninstall", "--manager", "systemd"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("not installed"));
}

#[test]
fn the_launchd_agent_runs_crust_start_at_login_and_after_failures() {
    let h = home("launchd");
    let o = crust(
        &h,
        &["service", "install", "--manager", "launchd", "--no-start"],
    );
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let plist =
        std::fs::read_to_string(h.join("Library/LaunchAgents/dev.crust.proxy.plist")).unwrap();
    for want in [
        "<key>Label</key>\n  <string>dev.crust.proxy</string>",
        "<string>start</string>",
        "<key>RunAtLoad</key>\n  <true/>",
        "<key>SuccessfulExit</key>\n    <false/>",
    ] {
        assert!(plist.contains(want), "missing {want:?} in {plist}");
    }
}

#[test]
fn an_install_without_a_service_manager_says_so() {
    let h = home("nomanager");
    // No user bus here (or no systemctl at all): installed, not started, exit 1 with why.
    let o = Command::new(env!("CARGO_BIN_EXE_crust"))
        .args(["service", "install", "--manager", "systemd"])
        .env("HOME", &h)
        .env_remove("XDG_CONFIG_HOME")
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("installed but could not be started"), "{err}");
    assert!(h.join(".config/systemd/user/crust.service").exists());
}
