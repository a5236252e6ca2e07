//! The fault plan: which requests get which faults, read from TOML or JSON and checked against
//! its limits.

use serde::{Deserialize, Serialize};

use dosim_base::faults::{DropMode, RejectBody, Service};

/// Limits on a plan, so that a bad file cannot make the server unusable.
pub const RULES_MAX: usize = 1000;
pub const LATENCY_MS_MAX: u64 = 600_000;
pub const HANG_MS_MAX: u64 = 3_600_000;
pub const DEFAULT_HANG_MS: u64 = 60_000;

/// The methods a rule may name (besides `*`): HTTP's, as RFC 9110 and RFC 5789 list them.
pub const HTTP_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// Rules matched against each request of the service they name (the API's `/v2/` requests by
/// default, or Spaces' S3 requests); the first rule of the request's service that matches applies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPlan {
    /// Required, even when empty (`{"rules": []}` clears the plan): a plan without it is more
    /// likely a mistake than a wish for no faults.
    pub rules: Vec<FaultRule>,
}

/// One rule: which requests, and what happens to them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// The service whose requests the rule matches: `api` (the default) or `spaces`.
    #[serde(default, skip_serializing_if = "Service::is_api")]
    pub service: Service,
    /// An HTTP method, or `*` for any.
    #[serde(default = "any")]
    pub method: String,
    /// A path pattern: `*` matches one segment, a final `**` matches the rest. Spaces requests
    /// are matched by their path-style path, `/{bucket}/{key}`, however they were addressed.
    pub path: String,
    /// Network latency: the request is in transit for this long before it reaches the API, and a
    /// client that gives up meanwhile cancels it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_latency: Option<Latency>,
    /// Processing latency: the request has reached the API and takes this long to commit, whether
    /// its client still waits or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<Latency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reject: Option<Reject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_response: Option<DropResponse>,
}

fn any() -> String {
    "*".to_owned()
}

/// How long a request waits, in transit (`network_latency`) or at the API (`latency`): a delay
/// fixed or drawn from a distribution, as the cloud model's timings are.
pub type Latency = dosim_base::Delay;

/// Refuse the request before it commits.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reject {
    /// For the API: 429, 500, 502, 503 or 504. For Spaces: 500 (`InternalError`) or 503 (`SlowDown`).
    pub status: u16,
    #[serde(default = "always")]
    pub probability: f64,
    /// The body: the service's own when absent (DigitalOcean's JSON for the API, S3's XML for
    /// Spaces), or `html`, a proxy's error page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<RejectBody>,
    /// The `retry-after` of an injected 429, in seconds.
    #[serde(default = "one")]
    pub retry_after_s: u64,
}

fn always() -> f64 {
    1.0
}

fn one() -> u64 {
    1
}

/// Commit the request, then lose its response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropResponse {
    #[serde(default = "always")]
    pub probability: f64,
    #[serde(default)]
    pub mode: DropMode,
    /// How long a hung response waits before the connection is reset.
    #[serde(default = "default_hang_ms")]
    pub hang_ms: u64,
}

fn default_hang_ms() -> u64 {
    DEFAULT_HANG_MS
}

/// Why a plan was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanError(pub String);

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PlanError {}

impl Reject {
    /// The body this rejection answers with on `service`.
    pub fn body_for(&self, service: Service) -> RejectBody {
        self.body.unwrap_or(match service {
            Service::Api => RejectBody::Json,
            Service::Spaces => RejectBody::Xml,
        })
    }
}

impl FaultPlan {
    /// Parses TOML.
    pub fn from_toml(text: &str) -> Result<FaultPlan, PlanError> {
        let plan: FaultPlan =
            toml::from_str(text).map_err(|e| PlanError(format!("invalid TOML fault plan: {e}")))?;
        plan.validate()?;
        Ok(plan)
    }

    /// Parses JSON.
    pub fn from_json(text: &str) -> Result<FaultPlan, PlanError> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| PlanError(format!("invalid JSON fault plan: {e}")))?;
        if !value.is_object() {
            return Err(PlanError(format!(
                "invalid JSON fault plan: a plan is an object with \"rules\" (a list of rules), not {}",
                json_kind(&value)
            )));
        }
        let plan: FaultPlan = serde_json::from_value(value)
            .map_err(|e| PlanError(format!("invalid JSON fault plan: {e}")))?;
        plan.validate()?;
        Ok(plan)
    }

    /// Parses JSON if the text looks like JSON, TOML otherwise.
    pub fn parse(text: &str) -> Result<FaultPlan, PlanError> {
        if text.trim_start().starts_with('{') {
            FaultPlan::from_json(text)
        } else {
            FaultPlan::from_toml(text)
        }
    }

    /// Checks the limits and the values serde cannot check.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.rules.len() > RULES_MAX {
            return Err(PlanError(format!(
                "a fault plan has at most {RULES_MAX} rules, this one has {}",
                self.rules.len()
            )));
        }
        for (index, rule) in self.rules.iter().enumerate() {
            let at = |what: &str| {
                let service = match rule.service {
                    Service::Api => String::new(),
                    service => format!("{service} "),
                };
                PlanError(format!(
                    "rule {index} ({service}{} {}): {what}",
                    rule.method, rule.path
                ))
            };
            if !rule.path.starts_with('/') {
                return Err(at("path must start with '/'"));
            }
            if rule.method != "*"
                && !HTTP_METHODS
                    .iter()
                    .any(|m| m.eq_ignore_ascii_case(&rule.method))
            {
                return Err(at(&format!(
                    "method must be '*' or one of HTTP's: {}",
                    HTTP_METHODS.join(", ")
                )));
            }
            let segments: Vec<&str> = rule.path.trim_end_matches('/').split('/').collect();
            if segments
                .iter()
                .rev()
                .skip(1)
                .any(|segment| *segment == "**")
            {
                return Err(at("'**' may only be the path's last segment"));
            }
            for (name, latency) in [
                ("network_latency", &rule.network_latency),
                ("latency", &rule.latency),
            ] {
                if let Some(latency) = latency {
                    latency
                        .check(LATENCY_MS_MAX)
                        .map_err(|m| at(&format!("{name} {m}")))?;
                }
            }
            if let Some(reject) = &rule.reject {
                match rule.service {
                    Service::Api if !matches!(reject.status, 429 | 500 | 502 | 503 | 504) => {
                        return Err(at("reject.status must be 429, 500, 502, 503 or 504"));
                    }
                    Service::Spaces if !matches!(reject.status, 500 | 503) => {
                        return Err(at(
                            "reject.status must be 500 (InternalError) or 503 (SlowDown) for spaces",
                        ));
                    }
                    _ => {}
                }
                match (rule.service, reject.body) {
                    (Service::Api, Some(RejectBody::Xml)) => {
                        return Err(at("reject.body must be json or html for the api"));
                    }
                    (Service::Spaces, Some(RejectBody::Json)) => {
                        return Err(at("reject.body must be xml or html for spaces"));
                    }
                    _ => {}
                }
                check_probability(reject.probability).map_err(|m| at(&format!("reject.{m}")))?;
            }
            if let Some(drop) = &rule.drop_response {
                check_probability(drop.probability)
                    .map_err(|m| at(&format!("drop_response.{m}")))?;
                if drop.hang_ms > HANG_MS_MAX {
                    return Err(at(&format!(
                        "drop_response.hang_ms is capped at {HANG_MS_MAX}"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The index of the first rule of `service` matching a request.
    pub fn matching_rule(&self, service: Service, method: &str, path: &str) -> Option<usize> {
        self.rules.iter().position(|rule| {
            rule.service == service
                && (rule.method == "*" || rule.method.eq_ignore_ascii_case(method))
                && path_matches(&rule.path, path)
        })
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn check_probability(probability: f64) -> Result<(), &'static str> {
    if (0.0..=1.0).contains(&probability) {
        Ok(())
    } else {
        Err("probability must be between 0 and 1")
    }
}

/// Whether a path (without its query) matches a pattern.
pub fn path_matches(pattern: &str, path: &str) -> bool {
    let mut pattern_segments = pattern.trim_end_matches('/').split('/');
    let mut path_segments = path.trim_end_matches('/').split('/');
    loop {
        match (pattern_segments.next(), path_segments.next()) {
            (Some("**"), _) => return true,
            (Some(p), Some(s)) if p == "*" || p == s => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}
