//! aws-sdk-s3 in a simulation: an ordinary `aws_sdk_s3::Client` whose HTTP client dials over turmoil.
//!
//! [`client`] configures everything that would otherwise read the outside world: the endpoint and region are the run's Spaces, the credentials its key pair (static), the time source the simulated clock (what requests are signed with), sleeps tokio's (which turmoil drives), and retries are off (the standard strategy's jitter draws from a process-wide random source, outside the seed), so the program under test retries as it chooses.
//! Checksums are sent only when an operation requires them, as over plain HTTP they would otherwise change the payload encoding between SDK versions.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::{BehaviorVersion, Region, RequestChecksumCalculation};
use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_async::time::TimeSource;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;

use crate::net::TurmoilConnector;

pub use aws_sdk_s3;

/// The simulated clock as a wall clock: the fixed epoch plus simulated time elapsed.
#[derive(Debug, Clone, Copy, Default)]
pub struct SimTimeSource;

impl TimeSource for SimTimeSource {
    fn now(&self) -> SystemTime {
        let elapsed = turmoil::sim_elapsed().unwrap_or_default();
        SystemTime::UNIX_EPOCH + Duration::from_secs(crate::seed::EPOCH_UNIX_S) + elapsed
    }
}

/// An HTTP client for the SDK that sends each request over turmoil's network with hyper.
#[derive(Clone)]
pub struct TurmoilHttpClient {
    hyper: HyperClient<TurmoilConnector, Full<Bytes>>,
}

impl fmt::Debug for TurmoilHttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TurmoilHttpClient")
    }
}

impl Default for TurmoilHttpClient {
    fn default() -> Self {
        TurmoilHttpClient {
            hyper: HyperClient::builder(TokioExecutor::new()).build(TurmoilConnector),
        }
    }
}

impl HttpClient for TurmoilHttpClient {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

impl HttpConnector for TurmoilHttpClient {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let hyper = self.hyper.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|error| ConnectorError::other(error.into(), None))?;
            let (parts, body) = request.into_parts();
            let body = match body.bytes() {
                Some(bytes) => Bytes::copy_from_slice(bytes),
                None => body
                    .collect()
                    .await
                    .map_err(|error| ConnectorError::other(error, None))?
                    .to_bytes(),
            };
            let response = hyper
                .request(http::Request::from_parts(parts, Full::new(body)))
                .await
                .map_err(|error| ConnectorError::io(error.into()))?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|error| ConnectorError::io(error.into()))?
                .to_bytes();
            HttpResponse::try_from(http::Response::from_parts(parts, SdkBody::from(body)))
                .map_err(|error| ConnectorError::other(error.into(), None))
        })
    }
}

/// Why [`client`] could not build a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoSpaces;

impl fmt::Display for NoSpaces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the scenario has no Spaces (Scenario::spaces)")
    }
}

impl std::error::Error for NoSpaces {}

/// The S3 client config for the current run's Spaces, to adjust before building a client.
pub fn config() -> Result<aws_sdk_s3::config::Builder, NoSpaces> {
    let info = super::info().ok_or(NoSpaces)?;
    Ok(config_for(
        info.endpoint,
        info.region,
        info.access_key,
        info.secret_key,
    ))
}

/// The S3 client config for `endpoint`, as [`config`] makes it for a run's Spaces (the bench's
/// S3 floor uses it for its own server).
pub(crate) fn config_for(
    endpoint: String,
    region: String,
    access_key: String,
    secret_key: String,
) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region))
        .force_path_style(true)
        .credentials_provider(Credentials::new(
            access_key, secret_key, None, None, "dosim",
        ))
        .http_client(SharedHttpClient::new(TurmoilHttpClient::default()))
        .time_source(SimTimeSource)
        .sleep_impl(TokioSleep::new())
        .retry_config(RetryConfig::disabled())
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
}

/// An `aws_sdk_s3::Client` for the current run's Spaces, signed with its key pair.
pub fn client() -> Result<aws_sdk_s3::Client, NoSpaces> {
    Ok(aws_sdk_s3::Client::from_conf(config()?.build()))
}
