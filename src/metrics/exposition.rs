//! The exposition: one registry holding the families, encoded on each
//! scrape in the format the scraper asked for — OpenMetrics text when its
//! `Accept` names it (Prometheus does), else the Prometheus text format
//! 0.0.4 (curl, older scrapers). Both encoders are the official client's.

use super::families::Families;
use super::{MetricsError, Sources};
use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::registry::Registry;

/// The `Content-Type` of OpenMetrics text 1.0.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Which text format a scrape gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics text 1.0.0 (ends with `# EOF`).
    OpenMetrics,
    /// The Prometheus text format 0.0.4.
    PrometheusText,
}

impl Format {
    /// OpenMetrics if the `Accept` header names it, else the Prometheus text.
    pub fn for_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a)
                if a.to_ascii_lowercase()
                    .contains("application/openmetrics-text") =>
            {
                Format::OpenMetrics
            }
            _ => Format::PrometheusText,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Format::PrometheusText => prometheus_text::CONTENT_TYPE,
        }
    }
}

/// The families of one process, ready to encode.
#[derive(Debug)]
pub struct Exposition {
    registry: Registry,
}

impl Exposition {
    pub fn new(sources: Sources) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(Families { sources }));
        Self { registry }
    }

    /// Every family as it stands now.
    pub fn render(&self, format: Format) -> Result<String, MetricsError> {
        let mut body = String::with_capacity(8 * 1024);
        match format {
            Format::OpenMetrics => text::encode(&mut body, &self.registry),
            Format::PrometheusText => prometheus_text::encode(&mut body, &self.registry),
        }
        .map_err(|_| MetricsError::Encode)?;
        Ok(body)
    }
}
