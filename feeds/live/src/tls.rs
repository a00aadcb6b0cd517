//! TLS for the QUIC relay: certificates, and the quinn server / client configurations.
//!
//! This module owns everything about how a relay and its clients authenticate each other, so that
//! [`crate::relay`] only ever sees ready-made [`quinn::ServerConfig`] / [`quinn::ClientConfig`]
//! values:
//!
//! - [`self_signed`] makes a development certificate (what `ticklane cert` writes to files). A
//!   self-signed certificate is its own trust anchor: a client trusts the relay by being given the
//!   relay's certificate as `ca_pem`, and a relay trusts a client certificate (mutual TLS) by being
//!   given that certificate as `client_ca_pem`. rustls' webpki verifiers accept a self-signed
//!   end-entity certificate used this way (the relay's tests exercise both directions), so no
//!   separate CA is needed. Trusting several engines means concatenating their certificates
//!   into one `client_ca_pem` bundle (or using certificates issued by a real CA).
//! - [`server_config`] and [`client_config`] build TLS 1.3-only configurations on the *ring*
//!   crypto provider (installed explicitly, never taken from a process default), with the
//!   [`ALPN`] protocol of the relay, QUIC datagrams enabled and stream limits that fit the relay's
//!   protocol (see [`crate::relay`]).
//!
//! PEM inputs may hold several certificates (a chain, or a bundle of trusted certificates); every
//! error says which PEM input was bad.

use std::sync::Arc;
use std::time::Duration;

use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{TransportConfig, VarInt};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;

/// The ALPN protocol identifier of the relay protocol (version 1).
pub const ALPN: &[u8] = b"ticklane-mold/1";

/// Keep-alive interval of relay connections (both sides), well inside the idle timeout.
const KEEP_ALIVE: Duration = Duration::from_secs(5);
/// Idle timeout of relay connections.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Bidirectional streams a client may have open at once: the control stream and catch-ups.
const MAX_CLIENT_BIDI_STREAMS: u32 = 16;
/// Datagrams the relay may have queued per connection before the live path waits.
const SERVER_DATAGRAM_SEND_BUFFER: usize = 1 << 20;
/// Datagrams a client buffers before the oldest are dropped.
const CLIENT_DATAGRAM_RECEIVE_BUFFER: usize = 16 << 20;
/// Datagram receive buffer of the relay: clients send none, but a `Some` is what advertises
/// datagram support during the handshake.
const SERVER_DATAGRAM_RECEIVE_BUFFER: usize = 64 << 10;

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct DevCert {
    /// The certificate (PEM `CERTIFICATE`).
    pub cert_pem: String,
    /// Its private key (PEM `PRIVATE KEY`, PKCS#8). Keep it secret.
    pub key_pem: String,
}

impl std::fmt::Debug for DevCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevCert")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// What went wrong building certificates or TLS configurations.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// No names to put in a certificate.
    #[error("a certificate needs at least one DNS name or IP address")]
    NoNames,
    /// Certificate generation failed (e.g. a name that is neither an IP nor a valid DNS name).
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// A PEM input could not be used.
    #[error("bad {what} PEM: {reason}")]
    BadPem {
        /// Which input: "server certificate", "server private key", "client CA", "relay CA",
        /// "client certificate" or "client private key".
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// rustls refused the configuration (e.g. a private key that does not match the
    /// certificate).
    #[error("TLS configuration ({what}): {source}")]
    Config {
        /// Which part of the configuration.
        what: &'static str,
        /// rustls' error.
        #[source]
        source: rustls::Error,
    },
    /// The client certificate verifier could not be built from the client CA.
    #[error("client CA: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
    /// The crypto provider lacks the cipher suite QUIC needs for its initial packets.
    #[error("QUIC: {0}")]
    Quic(String),
}

/// The *ring* crypto provider, explicitly (never a process-wide default).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in `pem` (at least one).
fn parse_certs(pem: &str, what: &'static str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            what,
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::BadPem {
            what,
            reason: "no CERTIFICATE block".to_owned(),
        });
    }
    Ok(certs)
}

/// The first private key in `pem` (PKCS#8, PKCS#1 or SEC1).
fn parse_key(pem: &str, what: &'static str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| TlsError::BadPem {
        what,
        reason: e.to_string(),
    })
}

/// A root store trusting every certificate in `pem`.
fn root_store(pem: &str, what: &'static str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in parse_certs(pem, what)? {
        roots.add(cert).map_err(|e| TlsError::BadPem {
            what,
            reason: e.to_string(),
        })?;
    }
    Ok(roots)
}

fn check_names(names: &[String]) -> Result<(), TlsError> {
    if names.is_empty() {
        Err(TlsError::NoNames)
    } else {
        Ok(())
    }
}

/// A self-signed certificate (ECDSA P-256) for `names`: DNS names or IP addresses, e.g.
/// `["localhost", "127.0.0.1"]`. `ticklane cert` writes these to files.
///
/// Used as a relay certificate, it is also what clients trust (`ca_pem` of [`client_config`]);
/// used as a client certificate, it is what the relay trusts (`client_ca_pem` of
/// [`server_config`]).
pub fn self_signed(names: &[String]) -> Result<DevCert, TlsError> {
    check_names(names)?;
    let key = rcgen::KeyPair::generate()?;
    let cert = rcgen::CertificateParams::new(names.to_vec())?.self_signed(&key)?;
    Ok(DevCert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

fn server_transport() -> TransportConfig {
    let mut t = TransportConfig::default();
    t.max_concurrent_bidi_streams(VarInt::from_u32(MAX_CLIENT_BIDI_STREAMS))
        .max_concurrent_uni_streams(VarInt::from_u32(0))
        .datagram_receive_buffer_size(Some(SERVER_DATAGRAM_RECEIVE_BUFFER))
        .datagram_send_buffer_size(SERVER_DATAGRAM_SEND_BUFFER)
        .keep_alive_interval(Some(KEEP_ALIVE))
        .max_idle_timeout(IDLE_TIMEOUT.try_into().ok());
    t
}

fn client_transport() -> TransportConfig {
    let mut t = TransportConfig::default();
    // The relay opens one unidirectional stream (stream mode) and no bidirectional ones.
    t.max_concurrent_bidi_streams(VarInt::from_u32(0))
        .max_concurrent_uni_streams(VarInt::from_u32(4))
        .datagram_receive_buffer_size(Some(CLIENT_DATAGRAM_RECEIVE_BUFFER))
        .keep_alive_interval(Some(KEEP_ALIVE))
        .max_idle_timeout(IDLE_TIMEOUT.try_into().ok());
    t
}

/// The relay's QUIC server configuration: certificate chain and private key (PEM), TLS 1.3 on
/// *ring*, ALPN [`ALPN`], datagrams enabled.
///
/// If `client_ca_pem` is `Some`, every client must present a certificate that chains to one of
/// its certificates (mutual TLS; a self-signed client certificate can be its own CA), or the
/// handshake fails. Otherwise any client may connect, and must then authenticate with the
/// relay's token.
pub fn server_config(
    cert_pem: &str,
    key_pem: &str,
    client_ca_pem: Option<&str>,
) -> Result<quinn::ServerConfig, TlsError> {
    let certs = parse_certs(cert_pem, "server certificate")?;
    let key = parse_key(key_pem, "server private key")?;
    let provider = provider();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|source| TlsError::Config {
            what: "protocol versions",
            source,
        })?;
    let builder = match client_ca_pem {
        Some(ca) => {
            let roots = root_store(ca, "client CA")?;
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider).build()?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut tls = builder
        .with_single_cert(certs, key)
        .map_err(|source| TlsError::Config {
            what: "server certificate and private key",
            source,
        })?;
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let quic = QuicServerConfig::try_from(tls).map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(quic));
    config.transport_config(Arc::new(server_transport()));
    Ok(config)
}

/// A relay client's QUIC configuration, trusting the certificates in `ca_pem` (the relay's
/// self-signed certificate works as its own CA), TLS 1.3 on *ring*, ALPN [`ALPN`], datagrams
/// enabled. `client_cert` is `(certificate chain PEM, private key PEM)` for mutual TLS.
pub fn client_config(
    ca_pem: &str,
    client_cert: Option<(&str, &str)>,
) -> Result<quinn::ClientConfig, TlsError> {
    let roots = root_store(ca_pem, "relay CA")?;
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|source| TlsError::Config {
            what: "protocol versions",
            source,
        })?
        .with_root_certificates(roots);
    let mut tls = match client_cert {
        Some((cert_pem, key_pem)) => {
            let certs = parse_certs(cert_pem, "client certificate")?;
            let key = parse_key(key_pem, "client private key")?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|source| TlsError::Config {
                    what: "client certificate and private key",
                    source,
                })?
        }
        None => builder.with_no_client_auth(),
    };
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let quic = QuicClientConfig::try_from(tls).map_err(|e| TlsError::Quic(e.to_string()))?;
    let mut config = quinn::ClientConfig::new(Arc::new(quic));
    config.transport_config(Arc::new(client_transport()));
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["localhost".to_owned(), "127.0.0.1".to_owned()]
    }

    #[test]
    fn builds_configs_from_generated_certs() {
        let relay = self_signed(&names()).unwrap();
        let engine = self_signed(&["engine-1".to_owned()]).unwrap();
        server_config(&relay.cert_pem, &relay.key_pem, None).unwrap();
        server_config(&relay.cert_pem, &relay.key_pem, Some(&engine.cert_pem)).unwrap();
        client_config(&relay.cert_pem, None).unwrap();
        client_config(&relay.cert_pem, Some((&engine.cert_pem, &engine.key_pem))).unwrap();
    }

    #[test]
    fn says_which_pem_was_bad() {
        let relay = self_signed(&names()).unwrap();
        let err = server_config("garbage", &relay.key_pem, None).unwrap_err();
        assert!(
            matches!(
                err,
                TlsError::BadPem {
                    what: "server certificate",
                    ..
                }
            ),
            "{err}"
        );
        let err = server_config(&relay.cert_pem, "garbage", None).unwrap_err();
        assert!(
            matches!(
                err,
                TlsError::BadPem {
                    what: "server private key",
                    ..
                }
            ),
            "{err}"
        );
        let err = server_config(&relay.cert_pem, &relay.key_pem, Some("x")).unwrap_err();
        assert!(
            matches!(
                err,
                TlsError::BadPem {
                    what: "client CA",
                    ..
                }
            ),
            "{err}"
        );
        let other = self_signed(&names()).unwrap();
        let err = server_config(&relay.cert_pem, &other.key_pem, None).unwrap_err();
        assert!(matches!(err, TlsError::Config { .. }), "{err}");
        assert!(matches!(self_signed(&[]), Err(TlsError::NoNames)));
        assert!(!format!("{relay:?}").contains("PRIVATE"));
    }
}
