//! The notifier's configuration, read once at cold start.

use anyhow::{bail, Context};
use tracking_domain::email::EmailAddress;

use std::sync::Arc;

use tracking_aws::secrets::{unsubscribe_keys, SecretSource, UnsubscribeKeys};

/// The verified SES identity emails come from: `tracking@notify.example.com` or
/// `Tracking <tracking@notify.example.com>`.
///
/// The display name is limited to letters, digits, spaces and `-_&'`, which need no
/// quoting or encoding in a `From` header, so the value can never bend the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub display_name: Option<String>,
    pub address: EmailAddress,
}

impl Sender {
    pub fn parse(raw: &str) -> anyhow::Result<Self> {
        let raw = raw.trim();
        let (display_name, address) = match raw.strip_suffix('>').and_then(|r| r.split_once('<')) {
            Some((name, address)) => (Some(name.trim()), address),
            None => (None, raw),
        };
        let address = EmailAddress::parse(address)
            .with_context(|| format!("the sender address {address:?} is not a valid address"))?;
        let display_name = display_name.filter(|name| !name.is_empty());
        if let Some(name) = display_name {
            let plain = name.len() <= 64
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || " -_&'".contains(c));
            if !plain {
                bail!("the sender name {name:?} may only use letters, digits, spaces and -_&'");
            }
        }
        Ok(Self {
            display_name: display_name.map(str::to_owned),
            address,
        })
    }

    /// The `From` value SES puts in the header.
    pub fn mailbox(&self) -> String {
        match &self.display_name {
            Some(name) => format!("{name} <{}>", self.address),
            None => self.address.to_string(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NotifierConfig {
    /// `NOTIFY_SENDER`.
    pub sender: Sender,
    /// `PUBLIC_BASE_URL`: where `GET /unsubscribe` is served (the HTTP API's URL).
    pub public_base_url: String,
    /// `UNSUBSCRIBE_KEY_SECRET_ARN`: the secret whose current value signs unsubscribe
    /// links; orders-api verifies with the same secret.
    pub unsubscribe_keys: Arc<UnsubscribeKeys>,
    /// `ORIGIN_COUNTRY`: decides whether a hand-off is to a local carrier abroad.
    pub origin_country: String,
}

impl NotifierConfig {
    pub fn from_env(secrets: Arc<dyn SecretSource>) -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok(), secrets)
    }

    /// Every problem names its variable, so a bad deploy fails at cold start, not on the
    /// first email.
    /// The unsubscribe key itself is read from `secrets` on the first email, not here.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        secrets: Arc<dyn SecretSource>,
    ) -> anyhow::Result<Self> {
        let required = |name: &str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .with_context(|| format!("environment variable {name} is not set"))
        };
        let sender = Sender::parse(&required("NOTIFY_SENDER")?).context("NOTIFY_SENDER")?;
        let public_base_url =
            parse_base_url(&required("PUBLIC_BASE_URL")?).context("PUBLIC_BASE_URL")?;
        let unsubscribe_keys = Arc::new(unsubscribe_keys(
            secrets,
            &required("UNSUBSCRIBE_KEY_SECRET_ARN")?,
        ));
        let origin_country = lookup("ORIGIN_COUNTRY")
            .unwrap_or_else(|| "US".to_owned())
            .trim()
            .to_ascii_uppercase();
        Ok(Self {
            sender,
            public_base_url,
            unsubscribe_keys,
            origin_country,
        })
    }
}

/// An absolute https URL without query or fragment; links are built by appending paths.
/// Plain http only for a loopback host (the local stack): an unsubscribe link carries a
/// token that must not cross a network in the clear.
pub fn parse_base_url(raw: &str) -> anyhow::Result<String> {
    let url = raw.trim().trim_end_matches('/');
    let (rest, https) = match url.strip_prefix("https://") {
        Some(rest) => (rest, true),
        None => (
            url.strip_prefix("http://")
                .context("must start with https:// (or http:// on a loopback host locally)")?,
            false,
        ),
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty()
        || authority.contains('@')
        || url.contains(['?', '#'])
        || url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>\"'`\\".contains(c))
    {
        bail!("{url:?} is not a plain base URL such as https://api.example.com");
    }
    if !https && !is_loopback(authority) {
        bail!("{url:?} must use https:// (plain http only reaches 127.0.0.1 or localhost)");
    }
    Ok(url.to_owned())
}

/// `127.0.0.1`, `localhost` or `[::1]`, with an optional numeric port.
fn is_loopback(authority: &str) -> bool {
    let (host, port) = match authority.strip_prefix("[::1]") {
        Some(port) => ("[::1]", port),
        None => {
            let host_end = authority.find(':').unwrap_or(authority.len());
            authority.split_at(host_end)
        }
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| {
            !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
        });
    port_ok
        && matches!(
            host.to_ascii_lowercase().as_str(),
            "127.0.0.1" | "localhost" | "[::1]"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    const COMPLETE: &[(&str, &str)] = &[
        ("NOTIFY_SENDER", "Tracking <tracking@notify.example.com>"),
        ("PUBLIC_BASE_URL", "https://api.example.com/"),
        ("UNSUBSCRIBE_KEY_SECRET_ARN", SECRET_ARN),
    ];

    const SECRET_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:unsubscribe";

    fn no_secrets() -> Arc<dyn SecretSource> {
        tracking_aws::secrets::FixedSecrets::new([])
    }

    #[test]
    fn complete_environment_parses() {
        let config = NotifierConfig::from_lookup(env(COMPLETE), no_secrets()).unwrap();
        assert_eq!(
            config.sender.mailbox(),
            "Tracking <tracking@notify.example.com>"
        );
        assert_eq!(config.public_base_url, "https://api.example.com");
        assert_eq!(config.origin_country, "US");
    }

    #[test]
    fn each_missing_variable_is_named() {
        for missing in [
            "NOTIFY_SENDER",
            "PUBLIC_BASE_URL",
            "UNSUBSCRIBE_KEY_SECRET_ARN",
        ] {
            let vars: Vec<_> = COMPLETE
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            let error = NotifierConfig::from_lookup(env(&vars), no_secrets()).unwrap_err();
            assert!(format!("{error:#}").contains(missing), "{error:#}");
        }
    }

    #[test]
    fn plain_sender_address_is_accepted() {
        let sender = Sender::parse("tracking@notify.example.com").unwrap();
        assert_eq!(sender.display_name, None);
        assert_eq!(sender.mailbox(), "tracking@notify.example.com");
    }

    #[test]
    fn a_sender_that_could_bend_the_from_header_is_refused() {
        for raw in [
            "Tracking\r\nBcc: x@evil.example <tracking@notify.example.com>",
            "\"Tracking\" <tracking@notify.example.com>",
            "Track, Inc <tracking@notify.example.com>",
            "Tracking <tracking@notify.example.com>, evil@example.com",
            "Tracking <not an address>",
        ] {
            assert!(Sender::parse(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn base_url_must_be_plain_https() {
        assert_eq!(
            parse_base_url("https://api.example.com/v1/").unwrap(),
            "https://api.example.com/v1"
        );
        for raw in [
            "ftp://x.example",
            "https://",
            "https://x.example/?a=b",
            "https://x .example",
            "https://user@x.example",
            "x.example",
        ] {
            assert!(parse_base_url(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn plain_http_only_reaches_loopback() {
        for raw in [
            "http://127.0.0.1:3000",
            "http://127.0.0.1:3000/",
            "http://localhost:8080",
            "http://LOCALHOST",
            "http://[::1]:3000",
        ] {
            assert!(parse_base_url(raw).is_ok(), "{raw}");
        }
        for raw in [
            "http://api.example.com",
            "http://127.0.0.1.nip.io:3000",
            "http://localhost.evil.example",
            "http://127.0.0.1:3000@evil.example",
            "http://evil.example/127.0.0.1",
            "http://127.0.0.1:",
            "http://127.0.0.1:30x0",
            "http://10.0.0.1:3000",
        ] {
            let error = parse_base_url(raw).unwrap_err();
            assert!(format!("{error:#}").contains("https"), "{raw}: {error:#}");
        }
        let error = NotifierConfig::from_lookup(
            env(&[
                ("NOTIFY_SENDER", "tracking@notify.example.com"),
                ("PUBLIC_BASE_URL", "http://api.example.com"),
                ("UNSUBSCRIBE_KEY_SECRET_ARN", SECRET_ARN),
            ]),
            no_secrets(),
        )
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("PUBLIC_BASE_URL"),
            "{error:#}"
        );
    }
}
