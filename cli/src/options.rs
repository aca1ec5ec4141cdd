//! Option groups that more than one binary takes, as clap types over the runtime's plain
//! option structs (the runtime library has no command-line parser).

use clap::Args;
use crust_runtime::audit::AuditOptions;
use crust_runtime::proxy::ServeOptions;

/// The proxy's serving limits and remote admission (`crust-runtime`, `crust start`).
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Connections served at once (more wait in the listen backlog).
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Seconds a client may take to send a request body.
    #[arg(long, default_value_t = 60)]
    pub body_timeout_secs: u64,
    /// Request body MiB held in memory over all requests at once (more are refused with 503).
    #[arg(long, default_value_t = 256)]
    pub max_inflight_mib: usize,
    /// Seconds an HTTP/2 connection may leave keep-alive pings unanswered before it is closed.
    #[arg(long, default_value_t = 60)]
    pub idle_timeout_secs: u64,
    /// Admit clients on other hosts (needs --client-token): they use the upstream key through
    /// Crust, so they must prove they may.
    #[arg(long)]
    pub allow_remote: bool,
    /// The token clients on other hosts send in `x-crust-token` (default: $CRUST_CLIENT_TOKEN).
    #[arg(long)]
    pub client_token: Option<String>,
}

impl ServeArgs {
    pub fn options(&self) -> ServeOptions {
        self.clone().into()
    }
}

impl From<ServeArgs> for ServeOptions {
    fn from(a: ServeArgs) -> Self {
        ServeOptions {
            max_connections: a.max_connections,
            body_timeout_secs: a.body_timeout_secs,
            max_inflight_mib: a.max_inflight_mib,
            idle_timeout_secs: a.idle_timeout_secs,
            allow_remote: a.allow_remote,
            client_token: a.client_token,
        }
    }
}

/// The audit log's recipients and rotation (`crust-runtime`, `crust start`).
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// Another age recipient (age1...) the audit log is encrypted to, e.g. a team key.
    #[arg(long)]
    pub audit_recipient: Vec<String>,
    /// Rotate the audit log when it would grow past this many MiB.
    #[arg(long, default_value_t = 64)]
    pub audit_max_mib: u64,
    /// Rotated audit logs kept (older ones are deleted).
    #[arg(long, default_value_t = 5)]
    pub audit_keep: usize,
}

impl AuditArgs {
    pub fn options(&self) -> AuditOptions {
        self.clone().into()
    }
}

impl From<AuditArgs> for AuditOptions {
    fn from(a: AuditArgs) -> Self {
        AuditOptions {
            audit_recipient: a.audit_recipient,
            audit_max_mib: a.audit_max_mib,
            audit_keep: a.audit_keep,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Both {
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        audit: AuditArgs,
    }

    /// The flags' defaults are the runtime's defaults.
    #[test]
    fn defaults_agree_with_the_runtime() {
        let Ok(b) = Both::try_parse_from(["x"]) else {
            panic!("no flags must parse")
        };
        let (s, d) = (ServeOptions::from(b.serve), ServeOptions::default());
        assert_eq!(
            (s.max_connections, s.body_timeout_secs, s.max_inflight_mib),
            (d.max_connections, d.body_timeout_secs, d.max_inflight_mib)
        );
        assert_eq!(s.idle_timeout_secs, d.idle_timeout_secs);
        assert_eq!(
            (s.allow_remote, s.client_token),
            (d.allow_remote, d.client_token)
        );
        let (a, d) = (AuditOptions::from(b.audit), AuditOptions::default());
        assert_eq!(
            (a.audit_recipient, a.audit_max_mib, a.audit_keep),
            (d.audit_recipient, d.audit_max_mib, d.audit_keep)
        );
    }
}
