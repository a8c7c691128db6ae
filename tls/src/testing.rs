//! Certificates made at run time, for tests (feature `_testing`).

/// A throw-away CA and a server certificate it signed, all PEM.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate (what a client passes as `--tls-ca`).
    pub ca_pem: String,
    /// The server's certificate (`tls_cert`).
    pub cert_pem: String,
    /// The server's private key (`tls_key`).
    pub key_pem: String,
}

impl TestPki {
    /// A fresh CA, and a server certificate for `names` (DNS names or IP
    /// addresses, e.g. `127.0.0.1`) signed by it.
    pub fn new(names: &[&str]) -> TestPki {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("empty names are valid");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "blit test CA");
        let ca_key = rcgen::KeyPair::generate().expect("ring generates keys");
        let ca = ca_params.self_signed(&ca_key).expect("a CA certificate");
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let params = rcgen::CertificateParams::new(names).expect("test names are valid");
        let key = rcgen::KeyPair::generate().expect("ring generates keys");
        let cert = params.signed_by(&key, &ca, &ca_key).expect("a server certificate");
        TestPki { ca_pem: ca.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() }
    }

    /// Writes `ca.pem`, `cert.pem` and `key.pem` into `dir` and returns
    /// their paths in that order.
    pub fn write(&self, dir: &std::path::Path) -> [std::path::PathBuf; 3] {
        let paths = [dir.join("ca.pem"), dir.join("cert.pem"), dir.join("key.pem")];
        for (path, text) in paths.iter().zip([&self.ca_pem, &self.cert_pem, &self.key_pem]) {
            std::fs::write(path, text).expect("write a test certificate");
        }
        paths
    }
}
