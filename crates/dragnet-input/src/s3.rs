//! `s3://bucket/prefix` inputs: listing (pruned by CloudTrail path dates) and reading objects.
//!
//! Requests are presigned with SigV4 (`rusty-s3`) and sent with `ureq`. Credentials come from
//! `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, else from the profile
//! (`AWS_PROFILE`, default `default`) in `AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`;
//! without any, requests go unsigned (public buckets). The region comes from `AWS_REGION`,
//! `AWS_DEFAULT_REGION` or the profile in `~/.aws/config` (default `us-east-1`); the endpoint from
//! `--endpoint-url`, `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (path-style requests), else AWS.

use std::fmt;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use rusty_s3::actions::ListObjectsV2;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use crate::path_date::path_may_overlap;
use crate::problem::{Limit, Problem, ProblemKind};
use crate::{Discovered, InputOptions, Source};

/// How long presigned URLs stay valid.
const PRESIGN_FOR: Duration = Duration::from_secs(3600);

#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("{0}: not an s3://bucket/prefix URL")]
    BadUrl(String),
    #[error("bad S3 endpoint {endpoint}: {why}")]
    Endpoint { endpoint: String, why: String },
    #[error("{url}: S3 request failed: {why} (check credentials, region and --endpoint-url)")]
    Request { url: String, why: String },
    #[error("{url}: cannot read the S3 listing: {why}")]
    Listing { url: String, why: String },
}

/// Connection settings shared by the objects of one `s3://` input.
pub struct S3Client {
    bucket: Bucket,
    credentials: Option<Credentials>,
    agent: ureq::Agent,
}

impl fmt::Debug for S3Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Client")
            .field("bucket", &self.bucket.name())
            .field("endpoint", &self.bucket.base_url().as_str())
            .field("signed", &self.credentials.is_some())
            .finish()
    }
}

/// One object to read.
#[derive(Debug, Clone)]
pub struct S3Object {
    pub key: String,
    pub size: Option<u64>,
    client: Arc<S3Client>,
}

impl PartialEq for S3Object {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key && self.client.bucket.name() == other.client.bucket.name()
    }
}
impl Eq for S3Object {}

impl S3Object {
    pub fn bucket(&self) -> &str {
        self.client.bucket.name()
    }

    /// `s3://bucket/key`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket(), self.key)
    }

    pub(crate) fn open(&self, _opts: &InputOptions) -> Result<Box<dyn Read + Send>, S3Error> {
        let url = self
            .client
            .bucket
            .get_object(self.client.credentials.as_ref(), &self.key)
            .sign(PRESIGN_FOR);
        let response =
            self.client
                .agent
                .get(url.as_str())
                .call()
                .map_err(|e| S3Error::Request {
                    url: self.url(),
                    why: e.to_string(),
                })?;
        Ok(Box::new(response.into_body().into_reader()))
    }
}

/// `[section]` -> key/value pairs of an AWS ini file.
fn ini_section(text: &str, section: &str) -> Vec<(String, String)> {
    let mut inside = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') && line.ends_with(']') {
            inside = line[1..line.len() - 1].trim() == section;
        } else if inside && let Some((k, v)) = line.split_once('=') {
            out.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    out
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn aws_dir_file(env_name: &str, file: &str) -> Option<String> {
    let path = env(env_name).or_else(|| env("HOME").map(|h| format!("{h}/.aws/{file}")))?;
    std::fs::read_to_string(path).ok()
}

fn credentials() -> Option<Credentials> {
    if let (Some(key), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Some(match env("AWS_SESSION_TOKEN") {
            Some(token) => Credentials::new_with_token(key, secret, token),
            None => Credentials::new(key, secret),
        });
    }
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
    let text = aws_dir_file("AWS_SHARED_CREDENTIALS_FILE", "credentials")?;
    let pairs = ini_section(&text, &profile);
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (key, secret) = (get("aws_access_key_id")?, get("aws_secret_access_key")?);
    Some(match get("aws_session_token") {
        Some(token) => Credentials::new_with_token(key, secret, token),
        None => Credentials::new(key, secret),
    })
}

fn region() -> String {
    if let Some(r) = env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")) {
        return r;
    }
    let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
    let section = if profile == "default" {
        profile
    } else {
        format!("profile {profile}")
    };
    aws_dir_file("AWS_CONFIG_FILE", "config")
        .and_then(|text| {
            ini_section(&text, &section)
                .into_iter()
                .find(|(k, _)| k == "region")
                .map(|(_, v)| v)
        })
        .unwrap_or_else(|| "us-east-1".into())
}

fn client(bucket: &str, opts: &InputOptions) -> Result<S3Client, S3Error> {
    let region = region();
    let custom = opts
        .endpoint_url
        .clone()
        .or_else(|| env("AWS_ENDPOINT_URL_S3"))
        .or_else(|| env("AWS_ENDPOINT_URL"));
    let (endpoint, style) = match custom {
        Some(e) => (e, UrlStyle::Path),
        None => (
            format!("https://s3.{region}.amazonaws.com"),
            UrlStyle::VirtualHost,
        ),
    };
    let url = endpoint
        .parse()
        .map_err(|e: url::ParseError| S3Error::Endpoint {
            endpoint: endpoint.clone(),
            why: e.to_string(),
        })?;
    let bucket =
        Bucket::new(url, style, bucket.to_string(), region).map_err(|e| S3Error::Endpoint {
            endpoint,
            why: e.to_string(),
        })?;
    let agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .build()
        .new_agent();
    Ok(S3Client {
        bucket,
        credentials: credentials(),
        agent,
    })
}

/// Keys (with sizes) and sub-folder prefixes under one prefix.
#[derive(Default)]
struct Listing {
    files: Vec<(String, Option<u64>)>,
    subfolders: Vec<String>,
}

/// One page-through listing of `prefix` (with `/` as delimiter when `folders`), paging no
/// further once it holds more than `budget` keys or more than `budget` sub-folders: what a
/// listing holds is bounded by `--max-files` plus one page (S3 returns at most 1,000 entries a
/// page).
fn list(client: &S3Client, prefix: &str, folders: bool, budget: usize) -> Result<Listing, S3Error> {
    let mut listing = Listing::default();
    let mut token: Option<String> = None;
    let where_ = format!("s3://{}/{prefix}", client.bucket.name());
    loop {
        if listing.files.len() > budget || listing.subfolders.len() > budget {
            break;
        }
        let mut action: ListObjectsV2<'_> =
            client.bucket.list_objects_v2(client.credentials.as_ref());
        action.with_prefix(prefix);
        if folders {
            action.with_delimiter("/");
        }
        if let Some(t) = &token {
            action.with_continuation_token(t.clone());
        }
        let url = action.sign(PRESIGN_FOR);
        let mut response = client
            .agent
            .get(url.as_str())
            .call()
            .map_err(|e| S3Error::Request {
                url: where_.clone(),
                why: e.to_string(),
            })?;
        let text = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| S3Error::Listing {
                url: where_.clone(),
                why: e.to_string(),
            })?;
        let page = ListObjectsV2::parse_response(&text).map_err(|e| S3Error::Listing {
            url: where_.clone(),
            why: e.to_string(),
        })?;
        listing
            .files
            .extend(page.contents.into_iter().map(|c| (c.key, c.size)));
        listing
            .subfolders
            .extend(page.common_prefixes.into_iter().map(|p| p.prefix));
        match page.next_continuation_token {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    Ok(listing)
}

/// Lists `input` (`s3://bucket/prefix`) into `out`. Without a time range the prefix is listed
/// flat; with one, folder by folder, and folders whose CloudTrail date (`…/CloudTrail/<region>/
/// YYYY/MM/DD/`) is outside the range are never listed.
pub(crate) fn discover(input: &str, opts: &InputOptions, out: &mut Discovered) {
    let report = |out: &mut Discovered, e: S3Error| {
        out.problems.push(Problem::new(
            input.into(),
            None,
            ProblemKind::Io,
            e.to_string(),
        ))
    };
    let rest = &input["s3://".len()..];
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return report(out, S3Error::BadUrl(input.into()));
    }
    let client = match client(bucket, opts) {
        Ok(c) => Arc::new(c),
        Err(e) => return report(out, e),
    };
    let mut pending = vec![prefix.to_string()];
    // Objects listed so far, against `--max-files` as a folder walk counts files.
    let mut listed = 0;
    let mut stopped = false;
    while let Some(prefix) = pending.pop() {
        let folders = opts.time_range.is_some();
        match list(&client, &prefix, folders, opts.max_files - listed) {
            Ok(Listing { files, subfolders }) => {
                // S3 lists in key order; sub-folders are walked in that order after the files.
                for (key, size) in files {
                    if key.ends_with('/') {
                        continue;
                    }
                    if listed >= opts.max_files {
                        stopped = true;
                        break;
                    }
                    listed += 1;
                    if path_may_overlap(&key, opts.time_range) {
                        out.sources.push(Source::S3(S3Object {
                            key,
                            size,
                            client: client.clone(),
                        }));
                    } else {
                        out.pruned_by_date += 1;
                    }
                }
                if stopped || pending.len() + subfolders.len() > opts.max_files {
                    stopped = true;
                    break;
                }
                for sub in subfolders.into_iter().rev() {
                    if path_may_overlap(sub.trim_end_matches('/'), opts.time_range) {
                        pending.push(sub);
                    } else {
                        out.pruned_by_date += 1;
                    }
                }
            }
            Err(e) => report(out, e),
        }
    }
    if stopped {
        out.problems.push(Problem::new(
            input.into(),
            None,
            ProblemKind::LimitExceeded {
                limit: Limit::FilesPerWalk,
            },
            format!(
                "S3 listing stopped after {} objects ({}); the rest of the prefix is not read; raise it with {}",
                opts.max_files,
                Limit::FilesPerWalk.name(),
                Limit::FilesPerWalk.flag()
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections() {
        let text = "[default]\naws_access_key_id = A\n[profile x]\nregion=eu-west-1\n[other]\naws_access_key_id=B\n";
        assert_eq!(
            ini_section(text, "default"),
            vec![("aws_access_key_id".into(), "A".into())]
        );
        assert_eq!(
            ini_section(text, "profile x"),
            vec![("region".into(), "eu-west-1".into())]
        );
        assert!(ini_section(text, "missing").is_empty());
    }
}
