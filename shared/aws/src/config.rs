//! Function configuration, read once at cold start.

use anyhow::{bail, Context};

/// Everything a function needs from its environment. template.yaml sets each variable.
#[derive(Debug, Clone)]
pub struct Config {
    /// `TRACKING_TABLE`: the single table holding orders, timelines and lookups.
    pub table_name: String,
    /// `ORIGIN_COUNTRY`: where parcels leave from; any other ship-to country is international.
    pub origin_country: String,
}

impl Config {
    /// Fails fast, naming the missing variable, so a misconfigured deploy dies at cold
    /// start instead of on the first merchant's request.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let required = |name: &str| {
            lookup(name)
                .filter(|v| !v.trim().is_empty())
                .with_context(|| format!("environment variable {name} is not set"))
        };
        let origin_country = lookup("ORIGIN_COUNTRY").unwrap_or_else(|| "US".to_owned());
        if origin_country.len() != 2 {
            bail!("ORIGIN_COUNTRY must be a two-letter country code, got {origin_country:?}");
        }
        Ok(Self {
            table_name: required("TRACKING_TABLE")?,
            origin_country: origin_country.to_ascii_uppercase(),
        })
    }
}

/// A variable a function cannot run without, named in the error when it is missing.
pub fn required_env(name: &str) -> anyhow::Result<String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .with_context(|| format!("environment variable {name} is not set"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_table_variable_is_named_in_the_error() {
        let err = Config::from_lookup(|_| None).unwrap_err();
        assert!(err.to_string().contains("TRACKING_TABLE"), "{err}");
    }

    #[test]
    fn origin_country_defaults_to_us() {
        let config =
            Config::from_lookup(|name| (name == "TRACKING_TABLE").then(|| "t".to_owned())).unwrap();
        assert_eq!(config.origin_country, "US");
    }
}
