//! SIP over TLS: the certificate Parley presents and the authorities it trusts.
//!
//! Outbound TLS needs nothing configured: Parley verifies the trunk's certificate against the
//! Mozilla roots (`webpki-roots`, as its HTTPS client does) plus any extra authority in
//! `PARLEY_SIP_TLS_CA` (a private carrier CA), for the trunk's host name (or its IP address when
//! the trunk is given as one). With a certificate and key (`PARLEY_SIP_TLS_CERT`,
//! `PARLEY_SIP_TLS_KEY`) Parley also listens for TLS and presents that certificate to carriers
//! that ask for a client certificate (mutual TLS).
//!
//! Decision: rustls with the `ring` provider, named explicitly, as reqwest already uses it here:
//! no OpenSSL to link, and no process-wide provider to install (two providers in one tree make
//! rustls's default builder panic).

use rustls::crypto::ring::default_provider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// Why the TLS settings could not be used (the server refuses to start with them).
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read {path}: {why}")]
    Read { path: String, why: String },
    #[error("{path} holds no PEM certificate")]
    NoCertificate { path: String },
    #[error("the certificate and key do not make a TLS identity: {0}")]
    Identity(String),
    #[error("a certificate and a key go together: set both PARLEY_SIP_TLS_CERT and PARLEY_SIP_TLS_KEY")]
    HalfIdentity,
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
}

/// Where the TLS files are.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles<'a> {
    /// PEM certificate chain, leaf first.
    pub cert: Option<&'a Path>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<&'a Path>,
    /// PEM certificates of extra authorities to trust.
    pub ca: Option<&'a Path>,
}

/// The TLS side of the SIP network.
#[derive(Debug, Clone)]
pub struct SipTls {
    /// Where the TLS listener binds (SIP's port + 1 by default: 5061).
    pub bind: SocketAddr,
    /// Present when Parley has a certificate: it then accepts TLS connections.
    pub server: Option<Arc<ServerConfig>>,
    /// How Parley connects to trunks.
    pub client: Arc<ClientConfig>,
}

impl SipTls {
    /// Builds both sides from PEM files; `bind` is the listener's address.
    pub fn from_files(bind: SocketAddr, files: TlsFiles<'_>) -> Result<SipTls, TlsSetupError> {
        let provider = Arc::new(default_provider());
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(ca) = files.ca {
            for cert in certificates(ca)? {
                roots
                    .add(cert)
                    .map_err(|e| TlsSetupError::Identity(format!("{}: {e}", ca.display())))?;
            }
        }
        let identity = match (files.cert, files.key) {
            (Some(cert), Some(key)) => Some((certificates(cert)?, private_key(key)?)),
            (None, None) => None,
            _ => return Err(TlsSetupError::HalfIdentity),
        };
        let client = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let (client, server) = match identity {
            Some((chain, key)) => {
                let server = ServerConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()?
                    .with_no_client_auth()
                    .with_single_cert(chain.clone(), key.clone_key())
                    .map_err(|e| TlsSetupError::Identity(e.to_string()))?;
                let client = client
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| TlsSetupError::Identity(e.to_string()))?;
                (client, Some(Arc::new(server)))
            }
            None => (client.with_no_client_auth(), None),
        };
        Ok(SipTls {
            bind,
            server,
            client: Arc::new(client),
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsSetupError> {
    std::fs::read(path).map_err(|e| TlsSetupError::Read {
        path: path.display().to_string(),
        why: e.to_string(),
    })
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let pem = read(path)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsSetupError::Read {
            path: path.display().to_string(),
            why: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsSetupError::NoCertificate {
            path: path.display().to_string(),
        });
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    PrivateKeyDer::from_pem_slice(&read(path)?).map_err(|e| TlsSetupError::Read {
        path: path.display().to_string(),
        why: format!("no PEM private key ({e})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_needs_nothing_and_half_an_identity_is_refused() {
        let bind = SocketAddr::from(([127, 0, 0, 1], 5061));
        let tls = SipTls::from_files(bind, TlsFiles::default()).unwrap();
        assert!(tls.server.is_none(), "no certificate: no listener");
        let cert = Path::new("/nonexistent/cert.pem");
        let err = SipTls::from_files(
            bind,
            TlsFiles {
                cert: Some(cert),
                ..TlsFiles::default()
            },
        )
        .unwrap_err();
        assert!(matches!(err, TlsSetupError::HalfIdentity), "{err}");
        let err = SipTls::from_files(
            bind,
            TlsFiles {
                ca: Some(cert),
                ..TlsFiles::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
    }
}
