//! HTTP client settings shared by the exporters that push over HTTP (Loki push now; remote
//! write and OTLP/HTTP next): timeout, auth (bearer or basic), extra headers and TLS (rustls on
//! `ring`).
//!
//! [`HttpClientConfig`] is the `http` table of such an exporter. [`HttpClientConfig::validate`]
//! reports every problem at start-up; [`HttpClientConfig::build`] returns an [`HttpClient`]: one
//! pooled `reqwest::Client` plus the headers every request carries. Headers that the protocol
//! requires (content type, tenant) belong to the exporter and can never be overridden here.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

use crate::config::Problem;
use crate::config::de;

/// The `http` table of an HTTP exporter.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpClientConfig {
    /// Time allowed for one request, from connecting to the end of the response body.
    #[serde(default = "default_timeout", deserialize_with = "de::duration")]
    pub timeout: Duration,
    /// Credentials sent with every request: `bearer_token`, or `username` and `password`.
    #[serde(default)]
    pub auth: Option<AuthConfig>,
    /// Extra headers sent with every request. Headers the protocol sets itself (content type,
    /// tenant, auth when `auth` is set) are refused at start-up.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// TLS settings for `https` endpoints.
    #[serde(default)]
    pub tls: TlsConfig,
}

fn default_timeout() -> Duration {
    Duration::from_secs(10)
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            timeout: default_timeout(),
            auth: None,
            headers: BTreeMap::new(),
            tls: TlsConfig::default(),
        }
    }
}

/// The `http.auth` table: a bearer token, or basic credentials.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// Sent as `Authorization: Bearer <token>`.
    #[serde(default)]
    pub bearer_token: Option<String>,
    /// User name for basic auth (with `password`).
    #[serde(default)]
    pub username: Option<String>,
    /// Password for basic auth (with `username`).
    #[serde(default)]
    pub password: Option<String>,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |set: bool| if set { "<redacted>" } else { "<unset>" };
        f.debug_struct("AuthConfig")
            .field("bearer_token", &redacted(self.bearer_token.is_some()))
            .field("username", &self.username)
            .field("password", &redacted(self.password.is_some()))
            .finish()
    }
}

/// The `http.tls` table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of CA certificates trusted in addition to the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Accepts any server certificate. For test environments only.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// PEM file of the client certificate chain, for mutual TLS (with `key_file`).
    #[serde(default)]
    pub cert_file: Option<PathBuf>,
    /// PEM file of the client's private key (RSA, SEC1 or PKCS#8), with `cert_file`.
    #[serde(default)]
    pub key_file: Option<PathBuf>,
}

/// Why an HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The settings have problems (the same that [`HttpClientConfig::validate`] reports).
    #[error("invalid http settings: {}", join(.0))]
    Invalid(Vec<Problem>),
    /// reqwest refused the settings.
    #[error("cannot build the http client: {0}")]
    Client(#[from] reqwest::Error),
}

fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A pooled client and the headers every request carries (extra headers and auth).
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    headers: HeaderMap,
}

impl HttpClient {
    /// The pooled client; cheap to clone.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Adds the configured extra headers and auth to `request`. Call it before setting the
    /// protocol's own headers.
    pub fn apply(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request.headers(self.headers.clone())
    }
}

/// Installs rustls's `ring` crypto provider as the process default, once. Another provider
/// installed earlier is kept.
pub fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // An error means a provider is already installed, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl HttpClientConfig {
    /// Problems found at start-up; keys are prefixed with `prefix` (e.g. `http`).
    /// `reserved` lists the headers the exporter sets itself.
    pub fn validate(&self, prefix: &str, reserved: &[&str]) -> Vec<Problem> {
        match self.parts(prefix, reserved) {
            Ok(_) => Vec::new(),
            Err(problems) => problems,
        }
    }

    /// Builds the pooled client. `reserved` lists the headers the exporter sets itself.
    pub fn build(&self, prefix: &str, reserved: &[&str]) -> Result<HttpClient, HttpError> {
        let parts = self.parts(prefix, reserved).map_err(HttpError::Invalid)?;
        install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("synthtel/", env!("CARGO_PKG_VERSION")));
        if !parts.ca_certs.is_empty() {
            builder = builder.tls_certs_merge(parts.ca_certs);
        }
        if let Some(identity) = parts.identity {
            builder = builder.identity(identity);
        }
        if self.tls.insecure_skip_verify {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        Ok(HttpClient {
            client: builder.build()?,
            headers: parts.headers,
        })
    }

    /// Everything that can fail before reqwest sees the settings.
    fn parts(&self, prefix: &str, reserved: &[&str]) -> Result<Parts, Vec<Problem>> {
        let mut problems = Vec::new();
        if self.timeout.is_zero() {
            problems.push(Problem::new(
                format!("{prefix}.timeout"),
                "must be positive",
            ));
        }
        let mut headers = self.extra_headers(prefix, reserved, &mut problems);
        if let Some(auth) = &self.auth
            && let Some(value) = auth_header(auth, &format!("{prefix}.auth"), &mut problems)
        {
            headers.insert(AUTHORIZATION, value);
        }
        let tls = format!("{prefix}.tls");
        let ca_certs = self.ca_certs(&tls, &mut problems);
        let identity = self.identity(&tls, &mut problems);
        if problems.is_empty() {
            Ok(Parts {
                headers,
                ca_certs,
                identity,
            })
        } else {
            Err(problems)
        }
    }

    fn extra_headers(
        &self,
        prefix: &str,
        reserved: &[&str],
        problems: &mut Vec<Problem>,
    ) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let key = format!("{prefix}.headers.{name}");
            let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
                problems.push(Problem::new(
                    key,
                    format!("{name:?} is not a valid header name"),
                ));
                continue;
            };
            let owned = reserved
                .iter()
                .any(|r| r.eq_ignore_ascii_case(header.as_str()))
                || header == reqwest::header::CONTENT_LENGTH
                || (header == AUTHORIZATION && self.auth.is_some());
            if owned {
                problems.push(Problem::new(
                    key,
                    "is set by the exporter and cannot be overridden",
                ));
                continue;
            }
            match HeaderValue::from_str(value) {
                Ok(value) => {
                    headers.insert(header, value);
                }
                Err(_) => problems.push(Problem::new(key, "value is not a valid header value")),
            }
        }
        headers
    }

    fn ca_certs(&self, prefix: &str, problems: &mut Vec<Problem>) -> Vec<reqwest::Certificate> {
        let Some(path) = &self.tls.ca_file else {
            return Vec::new();
        };
        let key = format!("{prefix}.ca_file");
        let Some(pem) = read_file(path, &key, problems) else {
            return Vec::new();
        };
        match reqwest::Certificate::from_pem_bundle(&pem) {
            Ok(certs) if !certs.is_empty() => certs,
            Ok(_) => {
                problems.push(Problem::new(
                    key,
                    format!("{} holds no certificate", path.display()),
                ));
                Vec::new()
            }
            Err(error) => {
                problems.push(Problem::new(key, format!("{}: {error}", path.display())));
                Vec::new()
            }
        }
    }

    fn identity(&self, prefix: &str, problems: &mut Vec<Problem>) -> Option<reqwest::Identity> {
        let (cert_file, key_file) = match (&self.tls.cert_file, &self.tls.key_file) {
            (None, None) => return None,
            (Some(cert), Some(key)) => (cert, key),
            (Some(_), None) => {
                problems.push(Problem::new(
                    format!("{prefix}.key_file"),
                    "cert_file needs it",
                ));
                return None;
            }
            (None, Some(_)) => {
                problems.push(Problem::new(
                    format!("{prefix}.cert_file"),
                    "key_file needs it",
                ));
                return None;
            }
        };
        let mut pem = read_file(cert_file, &format!("{prefix}.cert_file"), problems)?;
        pem.push(b'\n');
        pem.extend(read_file(
            key_file,
            &format!("{prefix}.key_file"),
            problems,
        )?);
        match reqwest::Identity::from_pem(&pem) {
            Ok(identity) => Some(identity),
            Err(error) => {
                let message = format!("cannot use it with key_file as a client identity: {error}");
                problems.push(Problem::new(format!("{prefix}.cert_file"), message));
                None
            }
        }
    }
}

struct Parts {
    headers: HeaderMap,
    ca_certs: Vec<reqwest::Certificate>,
    identity: Option<reqwest::Identity>,
}

fn auth_header(auth: &AuthConfig, key: &str, problems: &mut Vec<Problem>) -> Option<HeaderValue> {
    let text = match (&auth.bearer_token, &auth.username, &auth.password) {
        (Some(token), None, None) if !token.is_empty() => format!("Bearer {token}"),
        (None, Some(user), Some(password)) => format!("Basic {}", base64(user, password)),
        (None, None, None) => {
            problems.push(Problem::new(
                key,
                "set bearer_token, or username and password",
            ));
            return None;
        }
        (Some(token), None, None) if token.is_empty() => {
            problems.push(Problem::new(
                format!("{key}.bearer_token"),
                "must not be empty",
            ));
            return None;
        }
        (Some(_), _, _) => {
            problems.push(Problem::new(
                key,
                "bearer_token excludes username and password",
            ));
            return None;
        }
        (None, _, _) => {
            problems.push(Problem::new(
                key,
                "basic auth needs both username and password",
            ));
            return None;
        }
    };
    match HeaderValue::from_str(&text) {
        Ok(mut value) => {
            value.set_sensitive(true);
            Some(value)
        }
        Err(_) => {
            problems.push(Problem::new(key, "credentials are not valid in a header"));
            None
        }
    }
}

fn read_file(path: &Path, key: &str, problems: &mut Vec<Problem>) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(error) => {
            problems.push(Problem::new(
                key,
                format!("cannot read {}: {error}", path.display()),
            ));
            None
        }
    }
}

/// Standard base64 of `user:password`, for basic auth (RFC 7617).
fn base64(user: &str, password: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{user}:{password}");
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.as_bytes().chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESERVED: &[&str] = &["content-type", "x-scope-orgid"];

    fn parse(text: &str) -> HttpClientConfig {
        toml::from_str(text).expect("config")
    }

    #[test]
    fn defaults_need_no_keys() {
        let config = parse("");
        assert_eq!(config.timeout, Duration::from_secs(10));
        assert!(config.validate("http", RESERVED).is_empty());
        assert!(config.build("http", RESERVED).is_ok());
    }

    #[test]
    fn encodes_basic_credentials() {
        assert_eq!(
            base64("Aladdin", "open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(base64("a", ""), "YTo=");
        assert_eq!(base64("ab", "c"), "YWI6Yw==");
    }

    #[test]
    fn applies_auth_and_extra_headers() {
        let config = parse(
            r#"
            headers = { "X-Team" = "qa" }
            auth = { username = "u", password = "p" }
            "#,
        );
        let client = config.build("http", RESERVED).expect("client");
        let request = client
            .apply(client.client().post("http://127.0.0.1:9/"))
            .build();
        let request = request.expect("request");
        assert_eq!(request.headers()["x-team"], "qa");
        assert_eq!(request.headers()[AUTHORIZATION], "Basic dTpw");
        assert!(request.headers()[AUTHORIZATION].is_sensitive());
    }

    #[test]
    fn refuses_reserved_and_malformed_headers() {
        let config = parse(
            r#"
            headers = { "x-scope-orgid" = "other", "Content-Type" = "text/plain", "bad name" = "x", "X-Ok" = "line\nbreak" }
            auth = { bearer_token = "t" }
            "#,
        );
        let mut keys: Vec<String> = config
            .validate("http", RESERVED)
            .into_iter()
            .map(|p| p.key)
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "http.headers.Content-Type",
                "http.headers.X-Ok",
                "http.headers.bad name",
                "http.headers.x-scope-orgid"
            ]
        );
    }

    #[test]
    fn refuses_authorization_header_beside_auth() {
        let config = parse(
            r#"
            headers = { Authorization = "Bearer x" }
            auth = { bearer_token = "t" }
            "#,
        );
        assert_eq!(
            config.validate("http", RESERVED)[0].key,
            "http.headers.Authorization"
        );
    }

    #[test]
    fn refuses_mixed_or_partial_auth() {
        let mixed = parse(r#"auth = { bearer_token = "t", username = "u" }"#);
        assert_eq!(mixed.validate("http", RESERVED)[0].key, "http.auth");
        let partial = parse(r#"auth = { username = "u" }"#);
        assert_eq!(partial.validate("http", RESERVED)[0].key, "http.auth");
    }

    #[test]
    fn reports_unreadable_and_invalid_tls_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a certificate").expect("write");
        let config = HttpClientConfig {
            tls: TlsConfig {
                ca_file: Some(junk),
                cert_file: Some(dir.path().join("missing.pem")),
                key_file: Some(dir.path().join("missing.key")),
                insecure_skip_verify: false,
            },
            ..HttpClientConfig::default()
        };
        let problems = config.validate("http", RESERVED);
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["http.tls.ca_file", "http.tls.cert_file"],
            "{problems:?}"
        );
        assert!(matches!(
            config.build("http", RESERVED),
            Err(HttpError::Invalid(_))
        ));
    }

    /// A throwaway self-signed certificate and its key, made for these tests only.
    const TEST_CERT: &str = "-----BEGIN CERTIFICATE-----\nMIIBhzCCAS2gAwIBAgIUYO/zIjeOL9r8fOu/uN1Ww7VAF0YwCgYIKoZIzj0EAwIw\nGDEWMBQGA1UEAwwNc3ludGh0ZWwtdGVzdDAgFw0yNjEyMDMxOTQ3MzNaGA8yMTI2\nMTEwOTE5NDczM1owGDEWMBQGA1UEAwwNc3ludGh0ZWwtdGVzdDBZMBMGByqGSM49\nAgEGCCqGSM49AwEHA0IABC0M7oNdb+udPMnY7RA3RCJ81nbRNafF5vy6i30mLd9M\nQRU45Na9V8hixM0iYR1RP80AiyL5vAPlPR0ZI3rRh6+jUzBRMB0GA1UdDgQWBBTO\nhw8yZw+RXJgU9BW60cmbDoRRODAfBgNVHSMEGDAWgBTOhw8yZw+RXJgU9BW60cmb\nDoRRODAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQDxaCy6vnxG\nPbmsihBOjiPBL1DfeVViBTfLmgMWpLUAaAIgDEbTjTcKjoymb4M1G5ilXGBx2GlQ\nClYN62fvzCYLK1o=\n-----END CERTIFICATE-----";
    const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgFx5zQnIaP1gWkHb0\n4hPytd1vq/TF2jZADxLjGJCVmJuhRANCAAQtDO6DXW/rnTzJ2O0QN0QifNZ20TWn\nxeb8uot9Ji3fTEEVOOTWvVfIYsTNImEdUT/NAIsi+bwD5T0dGSN60Yev\n-----END PRIVATE KEY-----";

    #[test]
    fn builds_with_a_ca_file_and_a_client_identity() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, TEST_CERT).expect("write");
        std::fs::write(&key, TEST_KEY).expect("write");
        let config = HttpClientConfig {
            tls: TlsConfig {
                ca_file: Some(cert.clone()),
                cert_file: Some(cert),
                key_file: Some(key),
                insecure_skip_verify: false,
            },
            ..HttpClientConfig::default()
        };
        assert_eq!(config.validate("http", RESERVED), Vec::new());
        config.build("http", RESERVED).expect("client");
        let insecure = HttpClientConfig {
            tls: TlsConfig {
                insecure_skip_verify: true,
                ..TlsConfig::default()
            },
            ..HttpClientConfig::default()
        };
        insecure.build("http", RESERVED).expect("client");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = parse(r#"auth = { username = "u", password = "hunter2" }"#);
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn installing_the_provider_twice_is_harmless() {
        install_crypto_provider();
        install_crypto_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }
}
