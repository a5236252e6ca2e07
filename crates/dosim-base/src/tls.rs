//! TLS for the data planes (PostgreSQL's `sslmode=require`, Valkey's `rediss://`): a fixed self-signed certificate for `localhost` and 127.0.0.1, so DigitalOcean's connection URIs work verbatim against `dosim serve`.
//!
//! The key is public, in this repository: the certificate encrypts a local connection and proves nothing, which is all `sslmode=require`, `redis-cli --tls --insecure` and redis-py with `ssl_cert_reqs=None` ask for.
//! Clients that verify it (`verify-ca`, `verify-full`, a CA bundle) fail, as they should against a certificate no authority signed.

use std::sync::{Arc, OnceLock};

use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::{crypto, ServerConfig};
use tokio_rustls::TlsAcceptor;

const CERTIFICATE_PEM: &[u8] = include_bytes!("tls/localhost.crt");
const KEY_PEM: &[u8] = include_bytes!("tls/localhost.key");

/// The acceptor, built once; the certificate and key are compiled in, so building it cannot fail at run time.
pub fn acceptor() -> TlsAcceptor {
    static ACCEPTOR: OnceLock<TlsAcceptor> = OnceLock::new();
    ACCEPTOR
        .get_or_init(|| {
            let certificate = CertificateDer::from_pem_slice(CERTIFICATE_PEM)
                .expect("the bundled certificate parses");
            let key = PrivateKeyDer::from_pem_slice(KEY_PEM).expect("the bundled key parses");
            // ring explicitly, so the choice does not depend on which crypto features other crates turn on.
            let config =
                ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
                    .with_safe_default_protocol_versions()
                    .expect("ring supports the default TLS versions")
                    .with_no_client_auth()
                    .with_single_cert(vec![certificate], key)
                    .expect("the bundled key matches the certificate");
            TlsAcceptor::from(Arc::new(config))
        })
        .clone()
}
