//! SCRAM-SHA-256 (RFC 5802 and RFC 7677) as PostgreSQL's server runs it, without channel binding since there is no TLS.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use dosim_pg::PgError;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// PostgreSQL's default `scram_iterations`.
pub const ITERATIONS: u32 = 4096;

/// The `scram_iterations` of the harness's simulated clusters, and of the PostgreSQL floor that
/// logs in as they do: PBKDF2's 4,096 rounds at both ends were nineteen twentieths of a seed's
/// instructions, and no run records the count, so one round changes no trace.
pub const SIMULATED_ITERATIONS: u32 = 1;

/// The exchange after the server's first message: what the client's final message is checked against.
pub(crate) struct Exchange {
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
    salt: Vec<u8>,
    iterations: u32,
}

fn malformed(detail: &str) -> PgError {
    PgError::new("08P01", "malformed SCRAM message").with_detail(detail.to_string())
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// PBKDF2-HMAC-SHA-256 with one block, which is all SCRAM-SHA-256 needs.
fn salted_password(password: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
    let mut first = salt.to_vec();
    first.extend_from_slice(&1u32.to_be_bytes());
    let mut u = hmac(password.as_bytes(), &first);
    let mut out = u;
    for _ in 1..iterations {
        u = hmac(password.as_bytes(), &u);
        for (o, x) in out.iter_mut().zip(u.iter()) {
            *o ^= x;
        }
    }
    out
}

/// A deterministic salt for a user, so a simulation run depends on its seed alone.
pub(crate) fn salt_for(user: &str) -> Vec<u8> {
    Sha256::digest(format!("dosim scram salt {user}").as_bytes())[..16].to_vec()
}

/// A deterministic server nonce from a per-cluster counter.
pub(crate) fn server_nonce(counter: u64) -> String {
    STANDARD.encode(&Sha256::digest(format!("dosim scram nonce {counter}").as_bytes())[..18])
}

impl crate::PgCluster {
    /// The server's first message to `user`: this cluster's salt for the user and its
    /// `scram_iterations`.
    pub(crate) fn scram_first(
        &self,
        client_first: &str,
        server_nonce: &str,
        user: &str,
    ) -> Result<Exchange, PgError> {
        let iterations = self.config().scram_iterations.max(1);
        server_first(client_first, server_nonce, salt_for(user), iterations)
    }
}

/// Reads the client's first message and builds the server's first: the combined nonce, the salt and the iteration count.
pub(crate) fn server_first(
    client_first: &str,
    server_nonce: &str,
    salt: Vec<u8>,
    iterations: u32,
) -> Result<Exchange, PgError> {
    // gs2-header: "n,," (no channel binding) or "y,," (client could but thinks the server cannot); "p=" asks for binding.
    let gs2_header = if client_first.starts_with("n,,") || client_first.starts_with("y,,") {
        &client_first[..3]
    } else if client_first.starts_with("p=") {
        return Err(PgError::new(
            "08P01",
            "channel binding is not supported: the server has no TLS",
        ));
    } else {
        return Err(malformed("Unexpected channel-binding flag."));
    };
    let bare = &client_first[3..];
    let client_nonce = bare
        .split(',')
        .find_map(|a| a.strip_prefix("r="))
        .filter(|n| !n.is_empty() && n.bytes().all(|c| (0x21..=0x7e).contains(&c) && c != b','))
        .ok_or_else(|| malformed("Could not find the client nonce."))?;
    let nonce = format!("{client_nonce}{server_nonce}");
    let server_first = format!("r={nonce},s={},i={iterations}", STANDARD.encode(&salt));
    Ok(Exchange {
        gs2_header: gs2_header.to_string(),
        client_first_bare: bare.to_string(),
        server_first,
        nonce,
        salt,
        iterations,
    })
}

impl Exchange {
    pub(crate) fn server_first_message(&self) -> &str {
        &self.server_first
    }

    /// Checks the client's proof against `password`; on success returns the server's final message, `v=<signature>`.
    ///
    /// `Ok(None)` is a wrong proof: the password does not match.
    pub(crate) fn server_final(
        &self,
        client_final: &str,
        password: &str,
    ) -> Result<Option<String>, PgError> {
        let (without_proof, proof) = client_final
            .rsplit_once(",p=")
            .ok_or_else(|| malformed("Could not find the client proof."))?;
        let mut channel = None;
        let mut nonce = None;
        for attr in without_proof.split(',') {
            if let Some(c) = attr.strip_prefix("c=") {
                channel = Some(c);
            } else if let Some(r) = attr.strip_prefix("r=") {
                nonce = Some(r);
            }
        }
        if channel != Some(STANDARD.encode(self.gs2_header.as_bytes()).as_str()) {
            return Err(malformed(
                "Unexpected SCRAM channel-binding attribute in client-final-message.",
            ));
        }
        if nonce != Some(self.nonce.as_str()) {
            return Err(malformed("Nonce does not match."));
        }
        let proof = STANDARD
            .decode(proof)
            .ok()
            .filter(|p| p.len() == 32)
            .ok_or_else(|| malformed("Malformed proof in client-final-message."))?;
        let salted = salted_password(password, &self.salt, self.iterations);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let client_signature = hmac(&stored_key, auth_message.as_bytes());
        let recovered: Vec<u8> = proof
            .iter()
            .zip(client_signature.iter())
            .map(|(p, s)| p ^ s)
            .collect();
        if Sha256::digest(&recovered).as_slice() != stored_key {
            return Ok(None);
        }
        let server_key = hmac(&salted, b"Server Key");
        let server_signature = hmac(&server_key, auth_message.as_bytes());
        Ok(Some(format!("v={}", STANDARD.encode(server_signature))))
    }
}

/// SCRAM-SHA-256's server side for a server other than [`crate::PgCluster`]: `dosim bench`'s
/// minimal PostgreSQL server authenticates its connections with it as the clusters do, so that
/// its floor pays the same exchange. The salt and the nonce are this crate's deterministic ones.
pub struct ScramServer(Exchange);

impl ScramServer {
    /// Reads the client's first message (`n,,n=,r=…`) for `user`, with the server's `counter`th
    /// nonce and `iterations` rounds of PBKDF2.
    pub fn start(
        client_first: &str,
        user: &str,
        counter: u64,
        iterations: u32,
    ) -> Result<ScramServer, PgError> {
        let exchange = server_first(
            client_first,
            &server_nonce(counter),
            salt_for(user),
            iterations.max(1),
        )?;
        Ok(ScramServer(exchange))
    }

    /// The server's first message: `r=<nonce>,s=<salt>,i=<iterations>`.
    pub fn server_first(&self) -> &str {
        self.0.server_first_message()
    }

    /// Checks the client's final message against `password`: the server's final message
    /// (`v=<signature>`), or `None` for a wrong proof.
    pub fn finish(&self, client_final: &str, password: &str) -> Result<Option<String>, PgError> {
        self.0.server_final(client_final, password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client's final message, with `password`, of the exchange that began with
    /// `client_first_bare` and `server_first`, as RFC 5802 builds it.
    fn client_final(client_first_bare: &str, server_first: &str, password: &str) -> String {
        let nonce = server_first
            .split(',')
            .find_map(|a| a.strip_prefix("r="))
            .unwrap();
        let salt = server_first
            .split(',')
            .find_map(|a| a.strip_prefix("s="))
            .unwrap();
        let iterations: u32 = server_first
            .split(',')
            .find_map(|a| a.strip_prefix("i="))
            .unwrap()
            .parse()
            .unwrap();
        let salted = salted_password(password, &STANDARD.decode(salt).unwrap(), iterations);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let without_proof = format!("c={},r={nonce}", STANDARD.encode("n,,"));
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(signature)
            .map(|(k, s)| k ^ s)
            .collect();
        format!("{without_proof},p={}", STANDARD.encode(proof))
    }

    /// The right password gets the server's signature, a wrong one `None`, and a client first
    /// message without a nonce an error.
    #[test]
    fn a_scram_server_checks_the_password() {
        let server = ScramServer::start("n,,n=,r=abc", "doadmin", 7, 1).unwrap();
        assert!(server.server_first().starts_with("r=abc"));
        assert!(server.server_first().ends_with(",i=1"));
        let right = client_final("n=,r=abc", server.server_first(), "secret");
        assert!(server
            .finish(&right, "secret")
            .unwrap()
            .unwrap()
            .starts_with("v="));
        let wrong = client_final("n=,r=abc", server.server_first(), "guess");
        assert_eq!(server.finish(&wrong, "secret").unwrap(), None);
        assert!(ScramServer::start("n,,n=", "doadmin", 7, 1).is_err());
    }
}
