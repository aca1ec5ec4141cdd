//! Signed bundles pulled from a registry (`--policy-url`): an OCI registry (`oci://host/repo:tag`,
//! the bundle and its `.minisig` pushed as two layers, as `oras push` does) or any HTTPS (or
//! HTTP) server (`https://host/path/policy.bin`, the signature at the same URL plus `.minisig`).
//!
//! A pulled bundle is activated only when its signature verifies against `--trust`, its serial
//! is newer than the running bundle's, and it loads (full validation); then the existing hot
//! swap takes it. Each good bundle is saved with its signature in the cache directory, and a
//! runtime whose registry is down starts from the saved copy (verified again). Polls are spread
//! with jitter and skip unchanged bundles by ETag or manifest digest.

use super::server::{HttpsClient, Shared};
use crate::bundle::signed::{self, Trust, SIG_SUFFIX};
use crate::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Request, StatusCode, Uri};
use sha2::Digest;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Largest bundle pulled.
const MAX_BUNDLE: usize = 64 << 20;
/// Largest signature or manifest.
const MAX_SMALL: usize = 256 << 10;
/// How long one pull may take.
const PULL_TIMEOUT: Duration = Duration::from_secs(30);
/// The saved copy's name in the cache directory.
const CACHED: &str = "policy.bin";

/// Where bundles come from.
#[derive(Debug, Clone)]
pub enum Source {
    Http(Uri),
    Oci {
        /// `https://host[:port]` (`http://` for loopback registries).
        base: String,
        repo: String,
        reference: String,
    },
}

impl Source {
    pub fn parse(url: &str) -> Result<Source, String> {
        if let Some(rest) = url.strip_prefix("oci://") {
            let (host, path) = rest
                .split_once('/')
                .ok_or_else(|| format!("--policy-url {url:?}: oci://HOST/REPOSITORY[:TAG]"))?;
            let (repo, reference) = match path.rsplit_once('@') {
                Some((r, d)) => (r, d),
                None => match path.rsplit_once(':') {
                    Some((r, t)) if !t.contains('/') => (r, t),
                    _ => (path, "latest"),
                },
            };
            if host.is_empty() || repo.is_empty() {
                return Err(format!("--policy-url {url:?}: oci://HOST/REPOSITORY[:TAG]"));
            }
            let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
            let scheme = if matches!(name, "localhost" | "127.0.0.1" | "[::1]") {
                "http"
            } else {
                "https"
            };
            return Ok(Source::Oci {
                base: format!("{scheme}://{host}"),
                repo: repo.to_owned(),
                reference: reference.to_owned(),
            });
        }
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("--policy-url {url:?} is not a URL: {e}"))?;
        let loopback = matches!(
            uri.host(),
            Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
        );
        match uri.scheme_str() {
            Some("https") if uri.host().is_some() => Ok(Source::Http(uri)),
            Some("http") if loopback => Ok(Source::Http(uri)),
            Some("http") => Err(format!(
                "--policy-url {url:?}: plain http only to this machine; use https"
            )),
            _ => Err(format!(
                "--policy-url {url:?}: https://…, http://… or oci://HOST/REPOSITORY[:TAG]"
            )),
        }
    }
}

/// How and from where bundles are pulled.
#[derive(Debug, Clone)]
pub struct PullConfig {
    pub source: Source,
    pub trust: Trust,
    /// Where the last good bundle and its signature are kept.
    pub cache: PathBuf,
    /// Time between polls (each spread by ±20%).
    pub every: Duration,
    /// Only bundles signed for this channel (`crustc --channel`), when set.
    pub channel: Option<String>,
    /// Bundles with a lower serial are refused even with no saved copy (a new replica with an
    /// empty cache otherwise has nothing to compare with).
    pub min_serial: u64,
}

/// A bundle that passed every check.
pub struct Accepted {
    pub bundle: Engine,
    pub serial: u64,
    /// What identifies this version at the source (ETag or manifest digest).
    pub tag: Option<String>,
    /// The bytes and signature as pulled, for the saved copy.
    bytes: Vec<u8>,
    sig: String,
    /// Why the saved copy was started from, when it was (logged once logging is set up).
    pub fallback: Option<String>,
}

struct Fetched {
    bundle: Vec<u8>,
    sig: Option<String>,
    tag: Option<String>,
}

enum Pulled {
    Unchanged,
    New(Fetched),
}

/// The bundle to start with: pulled now, or, when the source cannot be reached, the saved copy
/// (verified again). A pulled bundle that fails a check stops the start: it is never replaced
/// by an older saved one silently.
pub async fn start(cfg: &PullConfig) -> Result<Accepted, String> {
    let client = super::server::upstream_client();
    match tokio::time::timeout(PULL_TIMEOUT, fetch(&client, &cfg.source, None)).await {
        Ok(Ok(Pulled::New(f))) => {
            let saved = load_saved(cfg).ok();
            let floor = floor(cfg).max(saved.as_ref().map_or(0, |a| a.serial));
            match accept(cfg, f, floor, true) {
                Ok(a) => {
                    save(cfg, &a)?;
                    Ok(a)
                }
                // The registry serves something worse than what this replica ran: start from
                // that, loudly, rather than not at all.
                Err(why) => match saved {
                    Some(mut s) => {
                        s.fallback = Some(format!("the pulled bundle was refused: {why}"));
                        Ok(s)
                    }
                    None => Err(why),
                },
            }
        }
        Ok(Ok(Pulled::Unchanged)) => load_saved(cfg),
        Ok(Err(why)) => {
            let mut a = load_saved(cfg).map_err(|e| {
                format!(
                    "cannot pull the bundle ({why}), and there is no saved copy to start from: {e}"
                )
            })?;
            a.fallback = Some(why);
            Ok(a)
        }
        Err(_) => {
            let mut a = load_saved(cfg).map_err(|e| {
                format!(
                    "pulling the bundle timed out, and there is no saved copy to start from: {e}"
                )
            })?;
            a.fallback = Some("the registry timed out".into());
            Ok(a)
        }
    }
}

/// Pulling as the proxy runs it: the configuration and what the running bundle is.
#[derive(Debug, Clone)]
pub struct Pulling {
    pub cfg: PullConfig,
    pub serial: u64,
    pub tag: Option<String>,
    /// The start used the saved copy, and why.
    pub fallback: Option<String>,
}

/// Polls until the process ends; a new good bundle is saved and swapped in.
pub(super) async fn run(shared: Arc<Shared>, p: Pulling) {
    let Pulling {
        cfg,
        mut serial,
        mut tag,
        fallback,
    } = p;
    match fallback {
        Some(why) => {
            tracing::warn!(error = %why, serial, "the registry cannot be reached; starting from the saved bundle")
        }
        None => tracing::info!(serial, "serving the pulled bundle"),
    }
    let client = super::server::upstream_client();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.subsec_nanos() as u64 | 1);
    loop {
        tokio::time::sleep(jittered(cfg.every, &mut seed)).await;
        let pulled =
            tokio::time::timeout(PULL_TIMEOUT, fetch(&client, &cfg.source, tag.as_deref())).await;
        let f = match pulled {
            Ok(Ok(Pulled::Unchanged)) => continue,
            Ok(Ok(Pulled::New(f))) => f,
            Ok(Err(why)) => {
                tracing::warn!(error = %why, "bundle pull failed; the current bundle keeps serving");
                continue;
            }
            Err(_) => {
                tracing::warn!("bundle pull timed out; the current bundle keeps serving");
                continue;
            }
        };
        let new_tag = f.tag.clone();
        match accept(&cfg, f, serial, false) {
            Ok(a) => {
                if let Err(e) = save(&cfg, &a) {
                    tracing::warn!(error = %e, "the new bundle could not be saved for the next start");
                }
                serial = a.serial;
                tag = a.tag.clone();
                shared.swap(a.bundle, &format!("pulled, serial {serial}"));
            }
            Err(why) => {
                shared.refused(&why);
                // The same refused version is not fetched again and again.
                tag = new_tag;
            }
        }
    }
}

/// Every check a pulled bundle passes before it serves. `at_start`: a bundle with the saved
/// copy's serial is accepted (it is the same one).
fn accept(cfg: &PullConfig, f: Fetched, running: u64, at_start: bool) -> Result<Accepted, String> {
    let signed = signed::verify(&f.bundle, f.sig.as_deref(), &cfg.trust)?;
    if let Some(want) = &cfg.channel {
        if signed.channel.as_deref() != Some(want.as_str()) {
            return Err(format!(
                "the bundle is signed for channel {}, not `{want}`",
                signed
                    .channel
                    .as_deref()
                    .map_or_else(|| "none".to_owned(), |c| format!("`{c}`"))
            ));
        }
    }
    let sig = f.sig.unwrap_or_default();
    if signed.serial < running || (signed.serial == running && !at_start) {
        return Err(format!(
            "the pulled bundle (serial {}) is not newer than the one running (serial {running}); \
             refused, as a rollback could bring back a policy that allowed more",
            signed.serial
        ));
    }
    let bundle = Engine::from_bytes(&f.bundle).map_err(|e| format!("the pulled bundle: {e}"))?;
    Ok(Accepted {
        bundle,
        serial: signed.serial,
        tag: f.tag,
        bytes: f.bundle,
        sig,
        fallback: None,
    })
}

/// The saved record of the highest serial accepted.
const FLOOR: &str = "serial";

/// The lowest serial acceptable: the operator's floor, or the highest ever accepted here.
fn floor(cfg: &PullConfig) -> u64 {
    let seen = std::fs::read_to_string(cfg.cache.join(FLOOR))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    cfg.min_serial.max(seen)
}

fn cached(cfg: &PullConfig) -> (PathBuf, PathBuf) {
    let b = cfg.cache.join(CACHED);
    (b.clone(), cfg.cache.join(format!("{CACHED}{SIG_SUFFIX}")))
}

fn load_saved(cfg: &PullConfig) -> Result<Accepted, String> {
    let (b, s) = cached(cfg);
    let bundle = std::fs::read(&b).map_err(|e| format!("{}: {e}", b.display()))?;
    let sig = std::fs::read_to_string(&s).ok();
    let f = Fetched {
        bundle,
        sig,
        tag: None,
    };
    accept(cfg, f, floor(cfg), true).map_err(|e| format!("the saved bundle {}: {e}", b.display()))
}

/// Keeps the accepted bundle (as pulled: its bytes are what the signature covers) for the next
/// start.
fn save(cfg: &PullConfig, a: &Accepted) -> Result<(), String> {
    std::fs::create_dir_all(&cfg.cache).map_err(|e| format!("{}: {e}", cfg.cache.display()))?;
    let (b, s) = cached(cfg);
    write_atomic(&s, a.sig.as_bytes())?;
    write_atomic(&b, &a.bytes)?;
    if a.serial > floor(cfg) {
        write_atomic(&cfg.cache.join(FLOOR), a.serial.to_string().as_bytes())?;
    }
    Ok(())
}

/// Written whole and synced, then renamed over the name; the temporary name is unique to this
/// write (replicas in containers share process ids and may share the volume).
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let unique = format!(
        "tmp{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let tmp = path.with_extension(unique);
    let result = std::fs::File::create(&tmp)
        .and_then(|mut f| f.write_all(bytes).and_then(|()| f.sync_all()))
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| format!("{}: {e}", path.display()))
}

/// `every` spread by ±20% (a small xorshift: replicas started together do not poll together).
fn jittered(every: Duration, seed: &mut u64) -> Duration {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    let spread = (*seed % 401) as f64 / 1000.0 - 0.2;
    every.mul_f64(1.0 + spread).max(Duration::from_millis(100))
}

async fn fetch(
    client: &HttpsClient,
    source: &Source,
    last: Option<&str>,
) -> Result<Pulled, String> {
    match source {
        Source::Http(url) => fetch_http(client, url, last).await,
        Source::Oci {
            base,
            repo,
            reference,
        } => fetch_oci(client, base, repo, reference, last).await,
    }
}

/// Redirects followed per request (registries send blobs to storage, releases to a CDN).
const MAX_REDIRECTS: usize = 5;

async fn get(
    client: &HttpsClient,
    url: &str,
    headers: &[(&str, String)],
    limit: usize,
) -> Result<(StatusCode, hyper::HeaderMap, Bytes), String> {
    let mut url: Uri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let origin = |u: &Uri| (u.scheme_str().map(str::to_owned), u.authority().cloned());
    let first = origin(&url);
    let mut hops = 0;
    let resp = loop {
        let mut req = Request::get(url.clone());
        for (k, v) in headers {
            // Credentials go only to the origin they were meant for.
            if *k == "authorization" && origin(&url) != first {
                continue;
            }
            req = req.header(*k, v);
        }
        let req = req
            .body(Full::new(Bytes::new()))
            .map_err(|e| format!("{url}: {e}"))?;
        let resp = client
            .request(req)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !resp.status().is_redirection() || resp.status() == StatusCode::NOT_MODIFIED {
            break resp;
        }
        hops += 1;
        let next = resp
            .headers()
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("{url}: a redirect with no location"))?;
        let next = resolve(&url, next).ok_or_else(|| format!("{url}: a bad redirect to {next}"))?;
        if hops > MAX_REDIRECTS {
            return Err(format!("{url}: more than {MAX_REDIRECTS} redirects"));
        }
        if url.scheme_str() == Some("https") && next.scheme_str() != Some("https") {
            return Err(format!("{url}: refusing a redirect from https to {next}"));
        }
        url = next;
    };
    let url = url.to_string();
    let (parts, body) = resp.into_parts();
    let bytes = Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| format!("{url}: the answer could not be read within {limit} bytes ({e})"))?
        .to_bytes();
    Ok((parts.status, parts.headers, bytes))
}

/// A bundle over HTTP(S): the small signature first (a new signature for the same bytes is a
/// new version too), then the bundle, conditionally on its ETag when the signature is the one
/// seen last. The version tag is the pair.
/// A redirect's location, absolute or relative to the URL that sent it.
fn resolve(base: &Uri, location: &str) -> Option<Uri> {
    if location.contains("://") {
        return location.parse().ok();
    }
    let scheme = base.scheme_str()?;
    let authority = base.authority()?;
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}").parse().ok();
    }
    let dir = base.path().rsplit_once('/').map_or("", |(d, _)| d);
    let (path, query) = match location.split_once('?') {
        Some((p, q)) => (format!("{dir}/{p}"), Some(q)),
        None => (format!("{dir}/{location}"), None),
    };
    // Dot segments resolved as RFC 3986 says.
    let mut out: Vec<&str> = Vec::new();
    for seg in path.split('/').skip(1) {
        match seg {
            "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s),
        }
    }
    let mut u = format!("{scheme}://{authority}/{}", out.join("/"));
    if let Some(q) = query {
        u.push('?');
        u.push_str(q);
    }
    u.parse().ok()
}

async fn fetch_http(client: &HttpsClient, url: &Uri, last: Option<&str>) -> Result<Pulled, String> {
    let url = url.to_string();
    let sig_url = format!("{url}{SIG_SUFFIX}");
    let (status, _, sig) = get(client, &sig_url, &[], MAX_SMALL).await?;
    let sig = if status.is_success() {
        Some(String::from_utf8_lossy(&sig).into_owned())
    } else if status == StatusCode::NOT_FOUND {
        None
    } else {
        return Err(format!("{sig_url}: {status}"));
    };
    let sig_hash = format!(
        "{:x}",
        sha2::Sha256::digest(sig.as_deref().unwrap_or("").as_bytes())
    );
    let (last_etag, last_sig) = last.and_then(|l| l.split_once('\n')).unwrap_or(("", ""));
    let mut headers = Vec::new();
    if last_sig == sig_hash && !last_etag.is_empty() {
        headers.push(("if-none-match", last_etag.to_owned()));
    }
    let (status, h, bundle) = get(client, &url, &headers, MAX_BUNDLE).await?;
    if status == StatusCode::NOT_MODIFIED {
        return Ok(Pulled::Unchanged);
    }
    if !status.is_success() {
        return Err(format!("{url}: {status}"));
    }
    let etag = h
        .get(hyper::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    Ok(Pulled::New(Fetched {
        bundle: bundle.to_vec(),
        sig,
        tag: Some(format!("{etag}\n{sig_hash}")),
    }))
}

const MANIFEST_TYPES: &str = "application/vnd.oci.image.manifest.v1+json, \
                              application/vnd.docker.distribution.manifest.v2+json";
const TITLE: &str = "org.opencontainers.image.title";

async fn fetch_oci(
    client: &HttpsClient,
    base: &str,
    repo: &str,
    reference: &str,
    last: Option<&str>,
) -> Result<Pulled, String> {
    let url = format!("{base}/v2/{repo}/manifests/{reference}");
    let mut auth = None;
    let mut headers = vec![("accept", MANIFEST_TYPES.to_owned())];
    let (mut status, mut h, mut manifest) = get(client, &url, &headers, MAX_SMALL).await?;
    if status == StatusCode::UNAUTHORIZED {
        // Anonymous pull with a token, as public registries ask.
        let token = registry_token(client, &h, repo).await?;
        auth = Some(format!("Bearer {token}"));
        headers.push(("authorization", format!("Bearer {token}")));
        (status, h, manifest) = get(client, &url, &headers, MAX_SMALL).await?;
    }
    if !status.is_success() {
        return Err(format!("{url}: {status}"));
    }
    let digest = h
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("sha256:{:x}", sha2::Sha256::digest(&manifest)));
    if reference.starts_with("sha256:") {
        let got = format!("sha256:{:x}", sha2::Sha256::digest(&manifest));
        if got != reference {
            return Err(format!(
                "{url}: the manifest's digest is {got}, not the {reference} asked for"
            ));
        }
    }
    if last == Some(digest.as_str()) {
        return Ok(Pulled::Unchanged);
    }
    let m: serde_json::Value = serde_json::from_slice(&manifest)
        .map_err(|e| format!("{url}: the manifest is not JSON: {e}"))?;
    let layers: Vec<(&str, &str)> = m
        .get("layers")
        .and_then(serde_json::Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|l| {
                    let title = l.get("annotations")?.get(TITLE)?.as_str()?;
                    Some((title, l.get("digest")?.as_str()?))
                })
                .collect()
        })
        .unwrap_or_default();
    let bundles: Vec<&(&str, &str)> = layers
        .iter()
        .filter(|(t, _)| !t.ends_with(SIG_SUFFIX))
        .collect();
    let [(name, layer)] = bundles.as_slice() else {
        return Err(format!(
            "{url}: the artifact must hold one bundle layer (and its {SIG_SUFFIX}), named by \
             {TITLE}; found {}",
            bundles.len()
        ));
    };
    let sig_name = format!("{name}{SIG_SUFFIX}");
    let sig_blob = layers.iter().find(|(t, _)| *t == sig_name).map(|(_, d)| *d);
    let mut blob_headers = Vec::new();
    if let Some(a) = &auth {
        blob_headers.push(("authorization", a.clone()));
    }
    let bundle = blob(client, base, repo, layer, &blob_headers, MAX_BUNDLE).await?;
    let sig = match sig_blob {
        Some(d) => Some(
            String::from_utf8_lossy(&blob(client, base, repo, d, &blob_headers, MAX_SMALL).await?)
                .into_owned(),
        ),
        None => None,
    };
    Ok(Pulled::New(Fetched {
        bundle,
        sig,
        tag: Some(digest),
    }))
}

/// A blob, checked against the digest that names it.
async fn blob(
    client: &HttpsClient,
    base: &str,
    repo: &str,
    digest: &str,
    headers: &[(&str, String)],
    limit: usize,
) -> Result<Vec<u8>, String> {
    let url = format!("{base}/v2/{repo}/blobs/{digest}");
    let (status, _, bytes) = get(client, &url, headers, limit).await?;
    if !status.is_success() {
        return Err(format!("{url}: {status}"));
    }
    let Some(want) = digest.strip_prefix("sha256:") else {
        return Err(format!("{url}: only sha256 digests are accepted"));
    };
    let got = format!("{:x}", sha2::Sha256::digest(&bytes));
    if got != want {
        return Err(format!(
            "{url}: the blob's digest is sha256:{got}, not the one the manifest names"
        ));
    }
    Ok(bytes.to_vec())
}

/// The anonymous token flow: `WWW-Authenticate: Bearer realm=…,service=…`.
async fn registry_token(
    client: &HttpsClient,
    h: &hyper::HeaderMap,
    repo: &str,
) -> Result<String, String> {
    let challenge = h
        .get(hyper::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or("the registry asks for credentials Crust does not have (only anonymous pulls)")?;
    let field = |k: &str| {
        challenge.split(',').find_map(|p| {
            let (key, v) = p.trim().split_once('=')?;
            (key == k).then(|| v.trim_matches('"').to_owned())
        })
    };
    let realm = field("realm").ok_or("the registry's challenge names no realm")?;
    let mut url = format!("{realm}?scope=repository:{repo}:pull");
    if let Some(s) = field("service") {
        url.push_str(&format!("&service={s}"));
    }
    let (status, _, body) = get(client, &url, &[], MAX_SMALL).await?;
    if !status.is_success() {
        return Err(format!("{realm}: {status}"));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("{realm}: {e}"))?;
    v.get("token")
        .or_else(|| v.get("access_token"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("{realm}: no token in the answer"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources() {
        assert!(matches!(
            Source::parse("oci://localhost:5000/team/policy:v3"),
            Ok(Source::Oci { ref base, ref repo, ref reference })
                if base == "http://localhost:5000" && repo == "team/policy" && reference == "v3"
        ));
        assert!(matches!(
            Source::parse("oci://ghcr.io/acme/crust-policy"),
            Ok(Source::Oci { ref base, ref reference, .. })
                if base == "https://ghcr.io" && reference == "latest"
        ));
        assert!(matches!(
            Source::parse("oci://r.example/p@sha256:ab"),
            Ok(Source::Oci { ref reference, .. }) if reference == "sha256:ab"
        ));
        assert!(matches!(
            Source::parse("https://x/policy.bin"),
            Ok(Source::Http(_))
        ));
        assert!(Source::parse("ftp://x/policy.bin").is_err());
        assert!(Source::parse("oci://hostonly").is_err());
    }

    #[test]
    fn redirects_resolve_like_a_browser() {
        let base: Uri = "https://h.example/a/b/policy.bin"
            .parse()
            .unwrap_or_default();
        let r = |l: &str| resolve(&base, l).map(|u| u.to_string());
        assert_eq!(r("../c/x.bin"), Some("https://h.example/a/c/x.bin".into()));
        assert_eq!(
            r("/top.bin?sig=1"),
            Some("https://h.example/top.bin?sig=1".into())
        );
        assert_eq!(r("./y"), Some("https://h.example/a/b/y".into()));
        assert_eq!(
            r("https://cdn.example/z"),
            Some("https://cdn.example/z".into())
        );
    }

    #[test]
    fn plain_http_only_to_this_machine() {
        assert!(Source::parse("http://127.0.0.1:8080/policy.bin").is_ok());
        assert!(Source::parse("http://localhost/policy.bin").is_ok());
        assert!(Source::parse("http://cdn.example/policy.bin").is_err());
    }

    #[test]
    fn polls_spread_within_a_fifth() {
        let mut seed = 12345;
        for _ in 0..1000 {
            let d = jittered(Duration::from_secs(10), &mut seed);
            assert!(
                d >= Duration::from_secs(8) && d <= Duration::from_secs(12),
                "{d:?}"
            );
        }
    }
}
